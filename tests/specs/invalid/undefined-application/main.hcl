application "shop" {
  region = "us-east-2"
}

environment "shop-prod" {
  application = application.shopp
  platform    = "python-3.12"
}
