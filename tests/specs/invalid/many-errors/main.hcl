application "shop" {
  region = "us-east-2"
  colour = "blue"
}

environment "shop-prod" {
  application = application.shop
  platform    = "python-3.21"
  proxy       = "caddy"

  instance {
    port = 0
  }

  capacity {
    min = 6
    max = 3
  }

  load_balancer {
    allowed_cidrs = ["300.0.0.0/8"]
  }
}

environment "shop-jobs" {
  application = application.shop
  platform    = "python-3.12"
  tier        = "worker"
  cname       = var.jobs_cname
}
