# Amazon Linux 2023 has no Python 3.10: there is no such Elastic Beanstalk branch.
application "pets" {
  region = "us-east-2"
}

environment "pets-prod" {
  application = application.pets
  platform    = "python-3.10"
}
