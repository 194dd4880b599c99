application "shop" {
  region = "us-east-2"
}

environment "shop-jobs" {
  application = application.shop
  platform    = "python-3.12"
  tier        = "worker"
  cname       = "jobs"

  worker {
    visibility_timeout = 60
    inactivity_timeout = 60
    max_retries        = 0
  }

  load_balancer {
    idle_timeout = 120
  }

  capacity {
    requests_per_target = 100
  }
}

environment "shop-web" {
  application = application.shop
  platform    = "python-3.12"

  worker {
    http_path = "/jobs"
  }

  capacity {
    backlog_per_instance = 10
  }
}
