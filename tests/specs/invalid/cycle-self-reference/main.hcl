locals {
  name = "${local.name}-prod"
}

application "shop" {
  region = "us-east-2"
}
