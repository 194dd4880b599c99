# The `beanpole/high-availability` module: a saved configuration for one production web
# environment. HTTPS only (HTTP redirects to HTTPS), at least two instances scaling out to six on
# CPU, and a fast health check on /health.
#
# The module declares no application: pass the name of one your spec declares as
# `application`. Block labels are literal in HCL, so the environment is always named `ha-web`;
# environment names are unique in a spec, so call this module at most once per spec.

environment "ha-web" {
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
