application "shop" {
  region = "us-east-2"
