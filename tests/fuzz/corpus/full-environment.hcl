application "full" {
  name        = "full-app"
  region      = "eu-west-1"
  domain      = "example.org."
  description = "every attribute"
  tags = {
    owner = "team"
    cost  = "123"
  }
}

environment "full-env" {
  name        = "full-env-prod"
  application = application.full
  tier        = "web"
  cname       = "full"
  platform    = "python-3.13"
  proxy       = "apache"
  description = "everything set"
  properties = {
    DJANGO_SETTINGS_MODULE = "app.settings"
    EMPTY                  = ""
  }
  tags = {
    env = "prod"
  }

  instance {
    type     = "m7g.large"
    ami      = "ami-0123456789abcdef0"
    key_name = "my-key"
    port     = 8000
  }

  capacity {
    min                 = 2
    max                 = 10
    desired             = 4
    cpu_target          = 55.5
    requests_per_target = 1000
  }

  load_balancer {
    internal      = true
    idle_timeout  = 120
    allowed_cidrs = ["10.0.0.0/8", "192.168.1.0/24", "::/0"]

    https {
      certificate_arn = "arn:aws:acm:eu-west-1:123456789012:certificate/abc"
      ssl_policy      = "ELBSecurityPolicy-2016-08"
      redirect_http   = false
    }

    health_check {
      path                = "/healthz?full=1"
      interval            = 30
      timeout             = 10
      healthy_threshold   = 3
      unhealthy_threshold = 5
      matcher             = "200-299"
    }
  }

  network {
    vpc_id  = "vpc-0123abcd"
    subnets = ["subnet-aaaa1111", "subnet-bbbb2222"]
  }

  permissions {
    managed_policies = ["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"]
    statement {
      sid       = "Read"
      effect    = "Allow"
      actions   = ["s3:GetObject", "s3:*"]
      resources = ["arn:aws:s3:::bucket/*"]
    }
    statement {
      effect    = "Deny"
      actions   = ["*"]
      resources = ["*"]
    }
  }
}

environment "worker" {
  application = application.full
  tier        = "worker"
  platform    = "python-3.12"
}

output "url" {
  value     = environment.full-env.url
  sensitive = true
}
