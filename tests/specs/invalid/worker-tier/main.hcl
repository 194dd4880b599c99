application "shop" {
  region = "us-east-2"
}

environment "shop-jobs" {
  application = application.shop
  platform    = "python-3.12"
  tier        = "worker"
}
