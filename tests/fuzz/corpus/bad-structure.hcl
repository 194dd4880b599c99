application {
  region = "us-east-2"
}

application "a" "b" {
}

environment "dup" {
  application = application.a
  platform    = "python-3.12"
  platform    = "python-3.11"
  instance {}
  instance {}
  unknown_block {}
  unknown_attr = 1
}

environment "dup" {
  application = application.a
}

resource "aws_instance" "x" {}

locals {
  x = 1
}

locals {
  x = 2
}

variable "v" "extra" {}

toplevel = "attribute"

module "no-source" {}
