# secure-api: one HTTPS-only, high-availability environment for the `api` application, from the
# `beanpole/high-availability` module shipped with Beanpole. The environment is named
# `api-production` and serves api.example.com; its resources have addresses such as
# `module.api.environment.web.load_balancer`.

application "api" {
  region = "us-east-2"
  domain = "example.com"
}

module "api" {
  source          = "beanpole/high-availability"
  name            = "api-production"
  application     = application.api.name
  cname           = "api"
  certificate_arn = "arn:aws:acm:us-east-2:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
}

output "environment" {
  description = "Name of the environment."
  value       = module.api.environment
}

output "url" {
  description = "URL of the environment; known only after apply."
  value       = module.api.url
}
