application "shop" {
  resource "AWS::SQS::Queue" "jobs" {}
}

environment "shop-blue" {
  application = application.shop
  platform    = "python-3.12"
  properties = {
    JOBS = "queue: ${application.shop.resource.jobs.ref}"
  }
}
