# Each environment in its own AWS account (and prod in another region), as .wellcome_project
# places them with account_id, region and role_arn: `shiplog deploy` writes
# /{project_id}/images/{environment}/{service_id} in the environment's account and region, so each
# environment's images are read with the provider of that account. The ECS services that run them
# are as in ../ecs_service, one per account, each resource given the same provider.
#
# A deploy to prod is refused until ECR replication has copied the release's images to prod's
# region (docs/accounts.md): what prod's parameters name is then in prod's own registry.

module "stage_images" {
  source = "../../modules/release_images"
  providers = {
    aws = aws.stage
  }

  project_id       = var.project_id
  label            = "stage"
  services         = var.services
  parameter_prefix = var.parameter_prefix
}

module "prod_images" {
  source = "../../modules/release_images"
  providers = {
    aws = aws.prod
  }

  project_id       = var.project_id
  label            = "prod"
  services         = var.services
  parameter_prefix = var.parameter_prefix
}

# shiplog's parameters name each image as it was pushed (the tooling account's registry); prod
# pulls from the replica in its own account and region, the same repository and digest.
locals {
  prod_pulled_images = {
    for service, uri in module.prod_images.images :
    service => replace(uri, "/^[0-9]{12}\\.dkr\\.ecr\\.[a-z0-9-]+\\.amazonaws\\.com//", "${var.prod.account_id}.dkr.ecr.${var.prod.region}.amazonaws.com/")
  }
}
