# The `beanpole/high-availability` module: a saved configuration for one production web
# environment. HTTPS only (HTTP redirects to HTTPS), at least two instances scaling out to six on
# CPU, and a fast health check on /health.
#
# The module declares no application: pass the name of one your spec declares as
# `application`. The environment's label is `web` (its address is `module.CALL.environment.web`);
# its real name is the `name` variable, so each call needs its own `name`.

environment "web" {
  name        = var.name
  description = "High-availability web environment for ${var.cname}.${var.domain} (${var.region})"
  application = var.application
  tier        = "web"
  cname       = var.cname
  platform    = var.platform

  instance {
    type = var.instance_type
  }

  capacity {
    min        = 2
    max        = 6
    cpu_target = 60
  }

  load_balancer {
    https {
      certificate_arn = var.certificate_arn
      redirect_http   = true
    }

    health_check {
      path     = "/health"
      interval = 15
      timeout  = 5
    }
  }
}
