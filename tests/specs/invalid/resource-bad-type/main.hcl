application "shop" {
  resource "DynamoDB::Table" "orders" {
    properties = { BillingMode = "PAY_PER_REQUEST" }
  }
}
