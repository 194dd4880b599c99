application "shop" {
  region = "us-east-2"
}

environment "shop-prod" {
  application = application.shop
  platform    = "python-3.12"

  permissions {
    statement {
      actions = ["s3:GetObject"]
    }
  }
}
