application "refs" {
  region = "us-east-2"
  domain = "example.com"
}

environment "refs-env" {
  application = application.refs
  platform    = "python-3.12"
}

environment "refs-env-2" {
  application = "refs"
  platform    = "python-3.12"
  cname       = "refs-env"
}

environment "refs-env-3" {
  application = application.nope
  platform    = "python-3.12"
}

output "name" {
  value = environment.refs-env.name
}

output "url" {
  value = environment.refs-env.url
}

output "lb" {
  value = [environment.refs-env.load_balancer_dns_name, environment.refs-env.load_balancer_arn, environment.refs-env.auto_scaling_group_name]
}

output "bad_member" {
  value = environment.refs-env.nonexistent
}

output "app" {
  value = application.refs
}

output "undefined" {
  value = var.undefined
}

output "no_value" {
  description = "missing value"
}

output "computed" {
  value = "${environment.refs-env.url}/path"
}
