# Inputs of the `beanpole/blue-green` module. Only `name` is required; everything else has a
# default suited to a small Python web application.

variable "name" {
  description = "Short lowercase name of the service (1 to 34 letters, digits and hyphens): the application's name, the environments' NAME-blue and NAME-green, and the CNAMEs NAME and NAME-staging."
  type        = string
}

variable "domain" {
  description = "DNS domain the CNAMEs live in (NAME.DOMAIN and NAME-staging.DOMAIN)."
  type        = string
  default     = "example.com"
}

variable "region" {
  description = "AWS region of the application and both environments."
  type        = string
  default     = "us-east-2"
}

variable "platform" {
  description = "Python platform of both environments, python-3.9 … python-3.13."
  type        = string
  default     = "python-3.12"
}

variable "instance_type" {
  description = "EC2 instance type of both environments."
  type        = string
  default     = "t3.small"
}

variable "min" {
  description = "Fewest instances each environment runs."
  type        = number
  default     = 1
}

variable "max" {
  description = "Most instances each environment scales out to."
  type        = number
  default     = 4
}

variable "properties" {
  description = "Environment properties (environment variables) given to both environments."
  type        = map(string)
  default     = {}
}
