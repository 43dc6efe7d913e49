output "images" {
  description = "Map of service id to container image URI (digest-pinned, e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/repo@sha256:...) under the label."
  value       = local.images
}

output "services" {
  description = "Service ids that have an image under the label, sorted."
  value       = sort(keys(local.images))
}

output "parameter_path" {
  description = "SSM path the images were read from: {parameter_prefix}/{project_id}/images/{label}/."
  value       = data.aws_ssm_parameters_by_path.images.path
}
