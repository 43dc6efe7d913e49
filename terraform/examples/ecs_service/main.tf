# Runs what shiplog deployed to an environment: `shiplog deploy` (or the deploy function) sets
# /{project_id}/images/{environment}/{service_id}, and `terraform apply` here rolls the task
# definition onto those images. Nothing is applied until someone runs terraform.

locals {
  services = ["archivist", "notifier"]
}

module "images" {
  source = "../../modules/release_images"

  project_id = var.project_id
  label      = var.environment
  services   = local.services
}

resource "aws_ecs_task_definition" "storage" {
  family                   = "${var.project_id}-${var.environment}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 512
  memory                   = 1024
  execution_role_arn       = var.execution_role_arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "ARM64"
  }

  container_definitions = jsonencode([
    for service in local.services : {
      name      = service
      image     = module.images.images[service]
      essential = true
      environment = [
        { name = "ENVIRONMENT", value = var.environment },
      ]
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = var.log_group_name
          awslogs-region        = var.region
          awslogs-stream-prefix = service
        }
      }
    }
  ])
}
