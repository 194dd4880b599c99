# shop-blue-green: two blue/green pairs built from the module shipped with Beanpole, one per call.
#
# - `module "shop"`: application `shop`, environments `shop-blue` (shop.example.com, production)
#   and `shop-green` (shop-staging.example.com).
# - `module "shop_admin"`: application `shop-admin`, environments `shop-admin-blue`
#   (shop-admin.example.com) and `shop-admin-green` (shop-admin-staging.example.com).
#
# Inside the module the blocks are labelled `app`, `blue` and `green`, so the addresses are
# `module.shop.environment.blue.load_balancer`, `module.shop_admin.environment.green.target_group`,
# …; the `name` variable keeps the AWS names of the two calls apart.

module "shop" {
  source = "beanpole/blue-green"
  name   = "shop"
}

module "shop_admin" {
  source        = "beanpole/blue-green"
  name          = "shop-admin"
  instance_type = "t3.micro"
  max           = 2
}

output "production_url" {
  description = "URL of the shop's blue (production) environment; known only after apply."
  value       = module.shop.production_url
}

output "staging_url" {
  description = "URL of the shop's green (staging) environment; known only after apply."
  value       = module.shop.staging_url
}

output "admin_production_url" {
  description = "URL of the admin's blue (production) environment; known only after apply."
  value       = module.shop_admin.production_url
}
