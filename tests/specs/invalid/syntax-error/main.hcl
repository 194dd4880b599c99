application "shop" {
  region = "us-east-2"
  domain = "example.com"
}

environment "shop-prod" {
  application = application.shop
  platform    = "python-3.12"
  cname       = "shop" "www"
}
