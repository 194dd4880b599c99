# Every setting of how the application runs is checked where it is written.
application "pets" {
  region = "us-east-2"
  source = "./app"
}

environment "pets-prod" {
  application  = application.pets
  platform     = "python-3.12"
  static_files = { "static" = "/var/www", "/assets" = "../outside" }

  wsgi {
    path    = "application:application; rm -rf /"
    threads = 0
  }

  deployment {
    policy     = "blue-green"
    batch_size = "150%"
    timeout    = "2h"
  }
}
