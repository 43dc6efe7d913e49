output "task_definition_arn" {
  description = "ARN of the task definition revision running the environment's images."
  value       = aws_ecs_task_definition.storage.arn
}

output "images" {
  description = "Service id to image URI, as shiplog deployed them to the environment."
  value       = module.images.images
}

output "service_name" {
  description = "Name of the ECS service that runs the environment's images."
  value       = aws_ecs_service.storage.name
}
