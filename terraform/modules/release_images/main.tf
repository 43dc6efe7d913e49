# Reads the images that shiplog keeps in SSM Parameter Store for one project and label:
# /{project_id}/images/{label}/{service_id} = {account}.dkr.ecr.{region}.amazonaws.com/{repository}@{digest}
# The path is shiplog.ParameterPath in the Go code; a test in pkg/infra holds the two together.

data "aws_ssm_parameters_by_path" "images" {
  path      = "/${var.project_id}/images/${var.label}/"
  recursive = false

  lifecycle {
    postcondition {
      condition     = length(self.names) > 0
      error_message = "No images under ${self.path} in SSM Parameter Store: nothing has been pushed (label \"latest\") or deployed (an environment label) for project \"${var.project_id}\" as \"${var.label}\"."
    }

    postcondition {
      condition     = length(setsubtract(var.services, [for name in self.names : trimprefix(name, self.path)])) == 0
      error_message = "No image under ${self.path} for: ${join(", ", sort(setsubtract(var.services, [for name in self.names : trimprefix(name, self.path)])))}. Deploy a release that has them, or push them for \"latest\"."
    }
  }
}

locals {
  parameters = data.aws_ssm_parameters_by_path.images

  # Service id -> image URI. The provider marks every parameter value sensitive; image URIs are not
  # secrets, and plans should show which image changes.
  images = nonsensitive(zipmap(
    [for name in local.parameters.names : trimprefix(name, local.parameters.path)],
    local.parameters.values,
  ))
}
