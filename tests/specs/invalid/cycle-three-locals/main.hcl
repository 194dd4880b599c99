locals {
  first  = "${local.second}-a"
  second = "${local.third}-b"
  third  = "${local.first}-c"
}

application "shop" {
  region = "us-east-2"
}

environment "shop-prod" {
  application = application.shop
  platform    = "python-3.12"
  cname       = local.first
}
