application "shop" {
  region = "us-east-2"
}

environment "blue" {
  name        = "shop-prod"
  application = application.shop
  platform    = "python-3.12"
  cname       = "shop"
}

environment "green" {
  name        = "shop-prod"
  application = application.shop
  platform    = "python-3.12"
  cname       = "shop-staging"
}
