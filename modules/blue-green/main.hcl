# The `beanpole/blue-green` module: one application and two identical environments, blue and
# green, for swapping CNAMEs on release. Blue serves NAME.DOMAIN (production), green serves
# NAME-staging.DOMAIN; deploy to green, test it, then swap.
#
# Labels (`app`, `blue`, `green`) are how this module and its callers refer to the blocks
# (`environment.blue.url`, addresses such as `module.shop.environment.blue.load_balancer`); the
# `name` attributes are the real names in AWS: application NAME, environments NAME-blue and
# NAME-green. Call the module once per service, each call with its own `name`.

application "app" {
  name        = var.name
  description = "Blue/green pair serving ${var.name}.${var.domain}"
  region      = var.region
  domain      = var.domain
  tags = {
    service = var.name
  }
}

environment "blue" {
  name        = "${var.name}-blue"
  description = "Blue: production, ${var.name}.${var.domain}"
  application = application.app
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

environment "green" {
  name        = "${var.name}-green"
  description = "Green: staging, ${var.name}-staging.${var.domain}"
  application = application.app
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
