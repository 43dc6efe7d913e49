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
      # Nothing under the path at all is the postcondition above's to say, once.
      condition     = length(self.names) == 0 || length(setsubtract(var.services, [for name in self.names : trimprefix(name, self.path)])) == 0
      error_message = "No image under ${self.path} for: ${join(", ", sort(setsubtract(var.services, [for name in self.names : trimprefix(name, self.path)])))}. Deploy a release that has them, or push them for \"latest\"."
    }

    postcondition {
      condition     = alltrue([for type in self.types : type == "String"])
      error_message = "Parameters under ${self.path} that are not plain Strings (shiplog writes only Strings): ${join(", ", [for i, name in self.names : name if self.types[i] != "String"])}."
    }

    # What the module hands on becomes a container image: anything else under the path (a tag, a
    # typo, another tool's value) is refused by name rather than deployed. The rule is awsecr's
    # ParseImage (pkg/infra holds the two together). Values stay out of the message: the provider
    # marks them sensitive. A SecureString is the postcondition above's to name.
    postcondition {
      condition     = alltrue([for i, value in self.values : self.types[i] != "String" || can(regex(local.image_uri, nonsensitive(value)))])
      error_message = "Parameters under ${self.path} whose values are not digest-pinned ECR image URIs ({account}.dkr.ecr.{region}.amazonaws.com/{repository}@sha256:{digest}): ${join(", ", [for i, name in self.names : name if self.types[i] == "String" && !can(regex(local.image_uri, nonsensitive(self.values[i])))])}."
    }
  }
}

locals {
  # A digest-pinned ECR image URI, as shiplog writes them: a 12-digit account, a region such as
  # eu-west-1 or us-gov-west-1, ECR's rule for repository names, 64 lower-case hex digits.
  image_uri = "^[0-9]{12}\\.dkr\\.ecr\\.[a-z]{2}(-[a-z0-9]+)+-[0-9]+\\.amazonaws\\.com(\\.cn)?/[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*@sha256:[0-9a-f]{64}$"

  parameters = data.aws_ssm_parameters_by_path.images

  # Service id -> image URI. The provider marks every parameter value sensitive; image URIs are not
  # secrets (and with_decryption = false keeps any SecureString encrypted), and plans should show
  # which image changes.
  images = nonsensitive(zipmap(
    [for name in local.parameters.names : trimprefix(name, local.parameters.path)],
    local.parameters.values,
  ))
}
