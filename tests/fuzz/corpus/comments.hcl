// line comment
# hash comment
/* block
   comment */
application "comments" { # trailing
  region = "us-east-2" // trailing
  /* inline */ domain = /* in the middle */ "example.com"
}
/* nested /* not really */ */
environment "comments-env" {
  application = application.comments
  platform    = "python-3.12"
}
/* unterminated block comment at the end of the file
