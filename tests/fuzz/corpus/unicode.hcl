# Ünïcödé comments: 日本語, emoji 🐍🚀, RTL עברית, combining é, zero-width ‍here
/* block comment with 中文 and 🎉 */
locals {
  greeting = "héllo wörld 🐍"
  kanji    = "日本語のテキスト"
  emoji    = "👩‍👩‍👧‍👦"
  mixed    = "${local.greeting} ${local.kanji}"
  upper_u  = upper("straße ǅ ﬁ")
  lower_u  = lower("ΣΑΣ İ")
  sub      = substr("🐍🚀🎉", 1, 1)
  len      = length("日本語")
  split_u  = split("語", "日本語日本語")
  replaced = replace("ñandú", "ñ", "n")
  fmt      = format("%s=%d 🐍", "ключ", 42)
}

application "unicode" {
  region      = "us-east-2"
  domain      = "exämple.com"
  description = local.mixed
  tags = {
    "clé" = "valeur"
    emoji = local.emoji
  }
}

environment "unicode-env" {
  application = application.unicode
  platform    = "python-3.12"
  cname       = "ünï"
  properties = {
    GREETING = local.greeting
    ΚΛΕΙΔΙ   = "value"
  }
  load_balancer {
    health_check {
      path = "/santé"
    }
  }
}

environment "日本" {
  application = application.unicode
  platform    = "python-3.12"
}
