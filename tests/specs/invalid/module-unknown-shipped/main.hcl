module "shop" {
  source = "beanpole/blue-gren"
  name   = "shop"
}
