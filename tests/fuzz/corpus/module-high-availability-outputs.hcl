# Outputs of the `beanpole/high-availability` module, read by the caller as `module.CALL.OUTPUT`.

output "environment" {
  description = "Name of the environment (the `name` variable)."
  value       = environment.web.name
}

output "url" {
  description = "URL of the environment; known only after apply."
  value       = environment.web.url
}
