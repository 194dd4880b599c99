module "m" {
  source = "./m"
  name   = "shop"
  nmae   = "shop"
}
