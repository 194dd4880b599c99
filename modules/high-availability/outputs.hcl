# Outputs of the `beanpole/high-availability` module, read by the caller as `module.NAME.OUTPUT`.

output "environment" {
  description = "Name of the environment."
  value       = environment.ha-web.name
}

output "url" {
  description = "URL of the environment; known only after apply."
  value       = environment.ha-web.url
}
