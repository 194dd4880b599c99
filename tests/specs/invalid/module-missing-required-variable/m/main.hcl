variable "name" {
  type = string
}

output "cname" {
  value = "${var.name}-www"
}
