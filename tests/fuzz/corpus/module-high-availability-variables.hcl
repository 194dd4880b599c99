# Inputs of the `beanpole/high-availability` module. `name`, `application`, `cname` and
# `certificate_arn` are required; the rest have defaults.

variable "name" {
  description = "Name of the environment: 4 to 40 letters, digits and hyphens, unique in the spec."
  type        = string
}

variable "application" {
  description = "Name of an application the calling spec declares; the environment joins it."
  type        = string
}

variable "cname" {
  description = "CNAME the environment serves in the application's domain, e.g. `api` for api.example.com."
  type        = string
}

variable "certificate_arn" {
  description = "ACM certificate for CNAME.DOMAIN, in the application's region."
  type        = string
}

variable "domain" {
  description = "Domain of the caller's application; only describes the environment (the application sets the real one)."
  type        = string
  default     = "example.com"
}

variable "region" {
  description = "Region of the caller's application; only describes the environment (the application sets the real one)."
  type        = string
  default     = "us-east-2"
}

variable "platform" {
  description = "Python platform, python-3.9 … python-3.13."
  type        = string
  default     = "python-3.12"
}

variable "instance_type" {
  description = "EC2 instance type."
  type        = string
  default     = "t3.medium"
}
