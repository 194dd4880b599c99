module "web" {
  source = "./modules/web"
  name   = "shop"
}
