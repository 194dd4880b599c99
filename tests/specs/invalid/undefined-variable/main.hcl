variable "instance_type" {
  type    = string
  default = "t3.small"
}

application "shop" {
  region = "us-east-2"
}

environment "shop-prod" {
  application = application.shop
  platform    = "python-3.12"

  instance {
    type = var.instance_typ
  }
}
