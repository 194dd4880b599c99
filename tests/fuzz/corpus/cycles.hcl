locals {
  a    = local.b
  b    = local.c
  c    = local.a
  self = local.self
  ok   = "fine"
  env  = environment.cyc-env.name
}

variable "v" {
  default = local.ok
}

application "cyc" {
  region      = "us-east-2"
  description = environment.cyc-env.description
}

environment "cyc-env" {
  application = application.cyc
  platform    = "python-3.12"
  description = local.env
  cname       = environment.other-env.cname
}

environment "other-env" {
  application = application.cyc
  platform    = "python-3.12"
  cname       = environment.cyc-env.cname
}

output "loop" {
  value = output.loop
}

module "m" {
  source = "./modules/m"
  input  = module.m.out
}
