# pets-app: the blue/green pair from Elastic Beanstalk's own tutorial. pets-env-blue serves
# pets.example.com (production) and pets-env-green serves pets-staging.example.com; deploy to
# green, check it, then swap CNAMEs. The Flask application it runs is in ./app.

variable "instance_type" {
  description = "EC2 instance type of both environments."
  type        = string
  default     = "t3.small"
}

locals {
  app = "pets-app"
}

application "pets-app" {
  region = "us-east-2"
  domain = "example.com"
  tags = {
    team = "pets"
  }
}

environment "pets-env-blue" {
  application = application.pets-app
  cname       = "pets"
  platform    = "python-3.12"
  proxy       = "nginx"
  properties = {
    FLASK_ENV  = "production"
    PETS_TABLE = "Pets"
  }

  instance {
    type = var.instance_type
  }

  capacity {
    min = 1
    max = 4
  }

  load_balancer {
    health_check {
      path = "/health"
    }
  }

  permissions {
    statement {
      actions   = ["dynamodb:GetItem", "dynamodb:PutItem"]
      resources = ["arn:aws:dynamodb:us-east-2:123456789012:table/Pets"]
    }
  }
}

environment "pets-env-green" {
  application = application.pets-app
  cname       = "pets-staging"
  platform    = "python-3.12"
  proxy       = "nginx"
  properties = {
    FLASK_ENV  = "production"
    PETS_TABLE = "Pets"
  }

  instance {
    type = var.instance_type
  }

  capacity {
    min = 1
    max = 4
  }

  load_balancer {
    health_check {
      path = "/health"
    }
  }

  permissions {
    statement {
      actions   = ["dynamodb:GetItem", "dynamodb:PutItem"]
      resources = ["arn:aws:dynamodb:us-east-2:123456789012:table/Pets"]
    }
  }
}

output "url" {
  description = "Production URL (pets-env-blue); known only after apply."
  value       = environment.pets-env-blue.url
}

output "staging_url" {
  description = "Staging URL (pets-env-green); known only after apply."
  value       = environment.pets-env-green.url
}
