output "stage_images" {
  description = "Service id to image URI, as shiplog deployed them to stage, read in stage's account and region."
  value       = module.stage_images.images
}

output "prod_images" {
  description = "Service id to image URI, as shiplog deployed them to prod, read in prod's account and region."
  value       = module.prod_images.images
}

output "prod_pulled_images" {
  description = "prod's images as its tasks pull them: the same repository and digest in the registry of prod's account and region (ECR replication's copy)."
  value       = local.prod_pulled_images
}
