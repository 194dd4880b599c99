application "shop" {
  region = "us-east-2"
}

environment "shop-prod" {
  application = application.shop
  platform    = "python-3.12"

  load_balancer {
    health_check {
      path     = "/health"
      interval = 10
      timeout  = 10
    }
  }
}
