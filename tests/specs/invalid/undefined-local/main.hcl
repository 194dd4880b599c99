locals {
  python = "python-3.12"
}

application "shop" {
  region = "us-east-2"
}

environment "shop-prod" {
  application = application.shop
  platform    = local.pyhton
}
