# Reads the images that shiplog keeps in SSM Parameter Store for one project and label:
# /{project_id}/images/{label}/{service_id} = {account}.dkr.ecr.{region}.amazonaws.com/{repository}@{digest}
# The path is shiplog.ParameterPath in the Go code (under the stack's ParameterPrefix, if it has
# one); a test in pkg/infra holds the two together.

data "aws_ssm_parameters_by_path" "images" {
  path      = "${var.parameter_prefix}/${var.project_id}/images/${var.label}/"
  recursive = false
  # shiplog writes plain String parameters. Without decryption a SecureString someone put under the
  # path stays ciphertext, so un-marking the values below can never show a secret in a plan.
  with_decryption = false

  lifecycle {
    postcondition {
      condition     = length(self.names) > 0
      error_message = "No images under ${self.path} in SSM Parameter Store: nothing has been pushed (label \"latest\") or deployed (an environment label) for project \"${var.project_id}\" as \"${var.label}\"."
    }

    postcondition {
      condition     = length(setsubtract(var.services, [for name in self.names : trimprefix(name, self.path)])) == 0
      error_message = "No image under ${self.path} for: ${join(", ", sort(setsubtract(var.services, [for name in self.names : trimprefix(name, self.path)])))}. Deploy a release that has them, or push them for \"latest\"."
    }

    postcondition {
      condition     = alltrue([for type in self.types : type == "String"])
      error_message = "Parameters under ${self.path} that are not plain Strings (shiplog writes only Strings): ${join(", ", [for i, name in self.names : name if self.types[i] != "String"])}."
    }
  }
}

locals {
  parameters = data.aws_ssm_parameters_by_path.images

  # Service id -> image URI. The provider marks every parameter value sensitive; image URIs are not
  # secrets (and with_decryption = false keeps any SecureString encrypted), and plans should show
  # which image changes.
  images = nonsensitive(zipmap(
    [for name in local.parameters.names : trimprefix(name, local.parameters.path)],
    local.parameters.values,
  ))
}
