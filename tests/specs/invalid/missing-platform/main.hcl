application "shop" {
  region = "us-east-2"
}

environment "shop-prod" {
  application = application.shop
  cname       = "shop"
}
