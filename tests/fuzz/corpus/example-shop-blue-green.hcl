# shop-blue-green: a blue/green pair for the `shop` service built from the module shipped with
# Beanpole. Blue serves shop.example.com, green serves shop-staging.example.com.

module "shop" {
  source = "beanpole/blue-green"
  name   = "shop"
}

output "production_url" {
  description = "URL of the blue (production) environment; known only after apply."
  value       = module.shop.production_url
}
