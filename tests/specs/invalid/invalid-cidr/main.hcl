application "shop" {
  region = "us-east-2"
}

environment "shop-prod" {
  application = application.shop
  platform    = "python-3.12"

  load_balancer {
    allowed_cidrs = ["10.0.0.0/8", "10.0.0.1/24"]
  }
}
