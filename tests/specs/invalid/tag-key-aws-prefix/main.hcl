application "shop" {
  region = "us-east-2"
  tags = {
    team             = "shop"
    "aws:cost-center" = "retail"
  }
}

environment "shop-prod" {
  application = application.shop
  platform    = "python-3.12"
}
