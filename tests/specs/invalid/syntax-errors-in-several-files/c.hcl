output "url" {
  value = environment.shop-prod.url
}
