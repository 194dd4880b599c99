application "shop" {
  region = "us-east-2"
}

environment "shop-prod" {
  application = application.shop
  platform    = "python-3.12"
  cname       = "shop"
}

environment "shop-prod" {
  application = application.shop
  platform    = "python-3.13"
  cname       = "shop-next"
}
