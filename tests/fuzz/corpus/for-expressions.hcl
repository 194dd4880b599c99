variable "names" {
  type    = list(string)
  default = ["alpha", "beta", "gamma"]
}

variable "props" {
  type    = map(string)
  default = { A = "1", B = "2" }
}

locals {
  upper_names = [for n in var.names : upper(n)]
  indexed     = [for i, n in var.names : "${i}-${n}"]
  filtered    = [for n in var.names : n if n != "beta"]
  as_map      = { for n in var.names : n => length(n) }
  grouped     = { for n in var.names : substr(n, 0, 1) => n... }
  from_map    = { for k, v in var.props : lower(k) => "${v}!" }
  nested      = [for a in var.names : [for b in var.names : "${a}/${b}"]]
  over_string = [for c in split("", "héllo") : c]
  bad_for     = [for x in 42 : x]
  empty       = [for x in [] : x]
}

application "for-app" {
  region = "us-east-2"
}

environment "for-env" {
  application = application.for-app
  platform    = "python-3.11"
  properties  = { for k, v in var.props : "PROP_${k}" => v }
  tags        = { for n in local.filtered : n => upper(n) }
  permissions {
    statement {
      actions   = [for a in ["GetItem", "PutItem"] : "dynamodb:${a}"]
      resources = ["*"]
    }
  }
}
