locals {
  max = 2 +
}

application "shop" {
  region = "us-east-2"
}
