application "crlf" {
	region = "us-east-2"
	domain = "example.com"
}

environment "crlf-env" {
	application = application.crlf
	platform    = "python-3.99"
	cname	= "CRLF_bad"
	properties = {
		A = "tab	here"
	}
	capacity {
		min = 5
		max = 2
	}
}
