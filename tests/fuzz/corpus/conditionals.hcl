variable "production" {
  type    = bool
  default = false
}

variable "size" {
  type    = number
  default = 3
}

locals {
  instance  = var.production ? "m5.large" : "t3.small"
  min       = var.production ? 2 : 1
  max       = var.size > 5 ? var.size : 5
  mixed     = var.production ? "string" : 42
  bad_cond  = "yes" ? 1 : 2
  null_cond = null ? 1 : 2
  chained   = var.size == 1 ? "one" : var.size == 2 ? "two" : var.size == 3 ? "three" : "many"
  unknown   = environment.cond-env.url == "" ? "a" : "b"
  compare   = [1 < 2, 2 <= 2, 3 > 2, 3 >= 4, "a" == "a", "a" != "b", 1 == "1"]
}

application "cond" {
  region = var.production ? "us-east-1" : "us-east-2"
  domain = "example.com"
}

environment "cond-env" {
  application = application.cond
  platform    = var.production ? "python-3.12" : "python-3.11"
  instance {
    type = local.instance
  }
  capacity {
    min     = local.min
    max     = local.max
    desired = local.min + 1
  }
}
