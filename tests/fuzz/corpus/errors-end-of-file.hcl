application "eof" {
  region = "us-east-2"
}

environment "eof-env" {
  application = application.eof
  platform    = "python-3.12"
  description = "unterminated string at the end of the file 🐍