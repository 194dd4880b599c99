application "shop" {
	region = "us-east-2"
	colour = "blue"
}
