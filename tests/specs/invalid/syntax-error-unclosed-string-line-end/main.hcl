# A string left open at the end of its line: hcl-edit notices only at the next quote, two
# lines further down; the error points at the opening quote on line 19.

application "shop" {
  region = "us-east-2"
  domain = "example.com"
}

environment "shop-blue" {
  application = application.shop
  cname       = "shop-blue"
  platform    = "python-3.12"
}

environment "shop-green" {
  platform    = "python-3.12"
  proxy       = "nginx"
  tier        = "web"
  cname       = "shop
  application = application.shop
  description = "green"
}
