terraform {
  # 1.5 for strcontains in the variable validations (postconditions on data sources need 1.2).
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # Tested with 5.100 (e2e's Terraform test); 6.x is a major version nobody has run it with.
      version = ">= 5.0, < 6.0"
    }
  }
}
