application "shop" {
  region = "us-east-2"
}

environment "shop-prod" {
  application = application.shop
  platform    = "python-3.12"

  load_balancer {
    https {
      certificate_arn = "arn:aws:acm:us-east-2:123456789012:certificate/0b1c2d3e-4f5a-6b7c-8d9e-0f1a2b3c4d5e"
      ssl_policy      = "ELBSecurityPolicy-2016-08"
    }
  }
}
