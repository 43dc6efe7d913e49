# Runs what shiplog deployed to an environment: `shiplog deploy` (or the deploy function) sets
# /{project_id}/images/{environment}/{service_id}, and `terraform apply` here rolls the ECS service
# onto those images (a new task definition revision, which the service then deploys). Nothing is
# applied until someone runs terraform.
#
# A new environment: until shiplog has deployed a release there, nothing is under
# /{project_id}/images/{environment}/ and the plan stops with the module's message ("No images
# under ..."). Deploy a release to the environment first (aws lambda invoke the deploy function,
# or POST .../environments/{environment}/deployments), then plan.

locals {
  services = ["archivist", "notifier"]
}

module "images" {
  source = "../../modules/release_images"

  project_id       = var.project_id
  label            = var.environment
  services         = local.services
  parameter_prefix = var.parameter_prefix
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
      name = service
      # lookup, not images[service]: when a service's parameter is gone, `terraform destroy` (which
      # does not check the module's postconditions) must still evaluate this. A plan never gets
      # here without every image: the module refuses it, naming the missing services.
      image     = lookup(module.images.images, service, null)
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

resource "aws_ecs_service" "storage" {
  name            = "${var.project_id}-${var.environment}"
  cluster         = var.cluster_arn
  task_definition = aws_ecs_task_definition.storage.arn
  desired_count   = var.desired_count
  launch_type     = "FARGATE"

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = var.security_group_ids
    assign_public_ip = false
  }

  # A revision whose tasks do not become healthy is rolled back to the previous one.
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  # Apply returns when the new tasks are running, so CI sees a failed roll-out.
  wait_for_steady_state = true
}
