variable "project_id" {
  description = "shiplog project id, as in .wellcome_project."
  type        = string
  default     = "storage"
}

variable "services" {
  description = "Service ids whose images each environment runs."
  type        = list(string)
  default     = ["archivist", "notifier"]
}

variable "parameter_prefix" {
  description = "The shiplog stack's ParameterPrefix (empty unless the stack was given one); it applies in every account."
  type        = string
  default     = ""
}

variable "stage" {
  description = "Where stage lives, as its .wellcome_project entry says (account_id, region) and the role Terraform assumes there to read its parameters."
  type = object({
    account_id = string
    region     = string
    role_arn   = string
  })
}

variable "prod" {
  description = "Where prod lives, as its .wellcome_project entry says (account_id, region) and the role Terraform assumes there to read its parameters."
  type = object({
    account_id = string
    region     = string
    role_arn   = string
  })
}
