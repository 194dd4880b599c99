locals {
  plain = <<EOT
line one
  line two with ${upper("interp")}
%{ if true }directive inside heredoc%{ endif }
EOT
  indented = <<-EOT
    indented
      more indented
    back
    EOT
  empty = <<EOT
EOT
  with_dollar = <<EOT
$${literal} and $$ and %%{literal}
EOT
}

application "heredoc" {
  region      = "us-east-2"
  description = <<-DESC
    An application described by a heredoc: ${local.indented}
  DESC
}

environment "heredoc-env" {
  application = application.heredoc
  platform    = "python-3.12"
  description = local.plain
  properties = {
    EMPTY = local.empty
    MULTI = <<EOT
a
b
EOT
  }
}
