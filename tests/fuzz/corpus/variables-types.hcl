variable "s" {
  type        = string
  default     = "text"
  description = "a string"
}

variable "n" {
  type    = number
  default = 1.5e3
}

variable "b" {
  type    = bool
  default = "true"
}

variable "ls" {
  type    = list(string)
  default = ["a", 1, true]
}

variable "set" {
  type    = set(string)
  default = ["x", "x"]
}

variable "ms" {
  type    = map(string)
  default = { a = "1", b = 2 }
}

variable "any" {
  type    = any
  default = { nested = [1, { deep = true }] }
}

variable "untyped" {
  default = null
}

variable "no_default" {
  type = string
}

variable "wrong_default" {
  type    = number
  default = "not a number"
}

variable "bad_type" {
  type    = list(number)
  default = [1]
}

variable "obj" {
  type    = object({ a = string })
  default = { a = "x" }
}

variable "sensitive" {
  type      = string
  default   = "secret"
  sensitive = true
  nullable  = false
  validation {
    condition     = length(var.sensitive) > 0
    error_message = "must not be empty"
  }
}

variable "refers" {
  default = var.s
}

application "vars" {
  name   = var.s
  region = "us-east-2"
  tags   = var.ms
}

environment "vars-env" {
  application = application.vars
  platform    = "python-3.12"
  properties  = var.ms
  capacity {
    min = var.n
    max = var.b
  }
  permissions {
    managed_policies = var.ls
  }
}
