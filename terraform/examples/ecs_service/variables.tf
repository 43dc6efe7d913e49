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

variable "parameter_prefix" {
  description = "The shiplog stack's ParameterPrefix (empty unless the stack was given one)."
  type        = string
  default     = ""
}

variable "cluster_arn" {
  description = "ECS cluster the service runs in."
  type        = string
}

variable "subnet_ids" {
  description = "Subnets of the service's tasks (awsvpc)."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the service's tasks."
  type        = list(string)
}

variable "desired_count" {
  description = "Tasks the service keeps running."
  type        = number
  default     = 1
}
