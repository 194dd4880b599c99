application "shop" {
  region = "us-east-2"
}

environment "web" {
  application = application.shop
  platform    = "python-3.12"
}
