application "host" {
  region = "us-east-2"
  domain = "example.com"
}

module "local" {
  source = "./modules/m"
  name   = "local"
  extra  = [1, 2, 3]
}

module "ha" {
  source          = "beanpole/high-availability"
  application     = "host"
  cname           = "ha"
  certificate_arn = 42
}

module "bg" {
  source = "beanpole/blue-green"
  name   = "BAD NAME"
  min    = "many"
  max    = -1
}

module "missing" {
  source = "beanpole/no-such-module"
}

module "nowhere" {
  source = "./does/not/exist"
}

module "escape" {
  source = "../../.."
}

output "from_module" {
  value = module.local.anything
}

output "ha_url" {
  value = module.ha.url
}
