variable "name" {
  type = string
}

application "app" {
  name   = var.name
  region = "us-east-2"
}

environment "env" {
  name        = "${var.name}-prod"
  application = application.app
  platform    = "python-3.12"
  proxy       = "ngnix"
}
