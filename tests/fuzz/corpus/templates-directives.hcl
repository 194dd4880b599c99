variable "flag" {
  type    = bool
  default = true
}

locals {
  items = ["a", "b", "c"]
  if_tmpl   = "%{ if var.flag }on%{ else }off%{ endif }"
  for_tmpl  = "%{ for i in local.items }[${i}]%{ endfor }"
  strip     = "  %{~ if var.flag ~}  stripped  %{~ endif ~}  "
  nested    = "%{ for i in local.items }%{ if i != "b" }${upper(i)}%{ endif }%{ endfor }"
  escapes   = "$${not.interpolated} %%{ not.directive } \n\t\"\\ \u00e9 \U0001F600"
  kv_for    = "%{ for k, v in { x = 1, y = 2 } }${k}=${v};%{ endfor }"
  bad_cond  = "%{ if "str" }x%{ endif }"
  dollar    = "$"
  percent   = "%"
  interp_eq = "${1 == 1}"
}

application "tmpl" {
  region      = "us-east-2"
  description = "${local.if_tmpl} ${local.for_tmpl}"
}

environment "tmpl-env" {
  application = application.tmpl
  platform    = "python-3.12"
  description = local.nested
  properties = {
    IF     = local.if_tmpl
    FOR    = local.for_tmpl
    STRIP  = local.strip
    ESC    = local.escapes
  }
}
