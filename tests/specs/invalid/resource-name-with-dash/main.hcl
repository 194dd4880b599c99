application "shop" {
  resource "AWS::SQS::Queue" "job-queue" {}
}
