application "shop" {
  region = "us-east-2"
}

environment "shop-blue" {
  application = application.shop
  platform    = "python-3.12"
  cname       = "shop"
}

environment "shop-green" {
  application = application.shop
  platform    = "python-3.12"
  cname       = "shop"
}
