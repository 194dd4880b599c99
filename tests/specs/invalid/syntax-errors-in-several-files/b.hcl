environment "shop-prod" {
  application = application.shop
  platform    = = "python-3.12"
}
