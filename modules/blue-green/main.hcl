# The `beanpole/blue-green` module: one application and two identical environments, blue and
# green, for swapping CNAMEs on release. Blue serves NAME.DOMAIN (production), green serves
# NAME-staging.DOMAIN; deploy to green, test it, then swap.
#
# Block labels are literal in HCL, so the application is always called `blue-green` and the
# environments `bg-blue` and `bg-green`. Application and environment names are unique in a spec,
# so call this module at most once per spec; for a second pair, copy the folder and call the copy
# by path (`source = "./modules/my-blue-green"`) after renaming its blocks.

application "blue-green" {
  description = "Blue/green pair serving ${var.name}.${var.domain}"
  region      = var.region
  domain      = var.domain
  tags = {
    service = var.name
  }
}

environment "bg-blue" {
  description = "Blue: production, ${var.name}.${var.domain}"
  application = application.blue-green
  tier        = "web"
  cname       = var.name
  platform    = var.platform
  properties  = var.properties

  instance {
    type = var.instance_type
  }

  capacity {
    min = var.min
    max = var.max
  }
}

environment "bg-green" {
  description = "Green: staging, ${var.name}-staging.${var.domain}"
  application = application.blue-green
  tier        = "web"
  cname       = "${var.name}-staging"
  platform    = var.platform
  properties  = var.properties

  instance {
    type = var.instance_type
  }

  capacity {
    min = var.min
    max = var.max
  }
}
