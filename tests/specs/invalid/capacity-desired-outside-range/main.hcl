application "shop" {
  region = "us-east-2"
}

environment "shop-prod" {
  application = application.shop
  platform    = "python-3.12"

  capacity {
    min     = 2
    max     = 4
    desired = 9
  }
}
