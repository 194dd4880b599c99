application "shop" {
  region = "us-east-2"
}

environment "shop-prod" {
  platform = "python-3.12"
  cname    = "shop"
}
