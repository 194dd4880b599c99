# Outputs of the `beanpole/blue-green` module, read by the caller as `module.CALL.OUTPUT`.

output "application" {
  description = "Name of the application holding both environments (the `name` variable)."
  value       = application.app.name
}

output "blue" {
  description = "Name of the blue environment, NAME-blue (production before any swap)."
  value       = environment.blue.name
}

output "green" {
  description = "Name of the green environment, NAME-green (staging before any swap)."
  value       = environment.green.name
}

output "production_url" {
  description = "URL of the blue environment; known only after apply."
  value       = environment.blue.url
}

output "staging_url" {
  description = "URL of the green environment; known only after apply."
  value       = environment.green.url
}
