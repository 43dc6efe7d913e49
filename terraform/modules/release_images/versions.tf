terraform {
  # 1.5 for strcontains in the variable validations (postconditions on data sources need 1.2).
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
  }
}
