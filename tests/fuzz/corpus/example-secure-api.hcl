# secure-api: one HTTPS-only, high-availability environment for the `api` application, from the
# `beanpole/high-availability` module shipped with Beanpole. It serves api.example.com.

application "api" {
  region = "us-east-2"
  domain = "example.com"
}

module "web" {
  source          = "beanpole/high-availability"
  application     = "api"
  cname           = "api"
  certificate_arn = "arn:aws:acm:us-east-2:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
}

output "url" {
  description = "URL of the environment; known only after apply."
  value       = module.web.url
}
