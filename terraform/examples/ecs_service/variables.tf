variable "region" {
  description = "AWS region of the shiplog stack (its SSM parameters) and of the ECS service."
  type        = string
  default     = "eu-west-1"
}

variable "project_id" {
  description = "shiplog project id, as in .wellcome_project."
  type        = string
  default     = "storage"
}

variable "environment" {
  description = "Environment to run: its images are the ones shiplog deployed there (the label is the environment id)."
  type        = string
  default     = "stage"
}

variable "execution_role_arn" {
  description = "Task execution role: lets ECS pull the images from ECR and write the logs."
  type        = string
}

variable "log_group_name" {
  description = "CloudWatch Logs group for the containers' output."
  type        = string
}
