# Outputs of the `beanpole/blue-green` module, read by the caller as `module.NAME.OUTPUT`.

output "application" {
  description = "Name of the application holding both environments."
  value       = application.blue-green.name
}

output "blue" {
  description = "Name of the blue environment (production before any swap)."
  value       = environment.bg-blue.name
}

output "green" {
  description = "Name of the green environment (staging before any swap)."
  value       = environment.bg-green.name
}

output "production_url" {
  description = "URL of the blue environment; known only after apply."
  value       = environment.bg-blue.url
}
