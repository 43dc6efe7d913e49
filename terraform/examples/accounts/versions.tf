terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }
}

# One provider per account: shiplog writes each environment's parameters in the environment's own
# account and region (through the role it assumes there, docs/accounts.md), so each environment's
# images are read there, with that account's provider. Terraform reaches each account through a
# role of its own (not shiplog's), as a team's pipeline does.

provider "aws" {
  alias  = "stage"
  region = var.stage.region

  assume_role {
    role_arn     = var.stage.role_arn
    session_name = "terraform-${var.project_id}-stage"
  }

  allowed_account_ids = [var.stage.account_id]
}

provider "aws" {
  alias  = "prod"
  region = var.prod.region

  assume_role {
    role_arn     = var.prod.role_arn
    session_name = "terraform-${var.project_id}-prod"
  }

  allowed_account_ids = [var.prod.account_id]
}
