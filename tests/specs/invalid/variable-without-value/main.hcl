variable "platform" {
  type        = string
  description = "Python platform of the environment."
}

application "shop" {
  region = "us-east-2"
}

environment "shop-prod" {
  application = application.shop
  platform    = var.platform
}
