# Ids follow shiplog.ValidateID: 1 to 128 letters, digits, ".", "_" or "-", and never "..".
# Project ids also may not begin with "aws" or "ssm" (SSM reserves those names).

variable "project_id" {
  description = "Project id, as in the .wellcome_project manifest (the first segment of /{project_id}/images/{label}/{service_id})."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]{1,128}$", var.project_id)) && !strcontains(var.project_id, "..")
    error_message = "project_id must be 1 to 128 letters, digits, '.', '_' or '-', without \"..\"."
  }

  validation {
    condition     = !can(regex("^(?i)(aws|ssm)", var.project_id))
    error_message = "project_id must not begin with \"aws\" or \"ssm\": SSM reserves those parameter names."
  }
}

variable "label" {
  description = "Label whose images to read: an environment id such as \"prod\" (what shiplog deployed there), or \"latest\" (the newest push of each service)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]{1,128}$", var.label)) && !strcontains(var.label, "..")
    error_message = "label must be 1 to 128 letters, digits, '.', '_' or '-', without \"..\"."
  }
}

variable "services" {
  description = "Service ids that must have an image under the label. Planning fails, naming them, if any has none. Empty: no service is required, but at least one image must exist."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for s in var.services : can(regex("^[A-Za-z0-9._-]{1,128}$", s)) && !strcontains(s, "..")])
    error_message = "Each of services must be 1 to 128 letters, digits, '.', '_' or '-', without \"..\"."
  }
}

variable "parameter_prefix" {
  description = "The shiplog stack's ParameterPrefix: empty for /{project_id}/images/..., or one segment such as \"/shiplog-staging\"."
  type        = string
  default     = ""
  nullable    = false

  validation {
    condition     = can(regex("^(/[A-Za-z0-9_.-]{1,64})?$", var.parameter_prefix)) && !can(regex("^/(?i)(aws|ssm)", var.parameter_prefix))
    error_message = "parameter_prefix must be empty or a slash and 1 to 64 letters, digits, '_', '.' or '-', not beginning with aws or ssm (as the template's ParameterPrefix)."
  }
}
