variable "subnets" {
  type    = lists(string)
  default = []
}

application "shop" {
  region = "us-east-2"
}
