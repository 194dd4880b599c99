# worker-app: Elastic Beanstalk's worker tier. No load balancer and no CNAME: Beanpole makes a
# queue with its dead-letter queue and a leader table in the environment's stack, and a daemon
# on every instance POSTs each message to the Flask application (sqsd's headers), deletes it
# when the application answers 200, and lets it come back otherwise; after `max_retries`
# receives it waits in the dead-letter queue (`beanpole queue jobs redrive` brings it back).
# The bundle's cron.yaml runs a task every minute, enqueued by one elected instance.

application "worker-app" {
  region = "us-east-2"
  source = "./app"
}

environment "jobs" {
  application = application.worker-app
  tier        = "worker"
  platform    = "python-3.12"

  worker {
    http_path                = "/"
    max_retries              = 3
    visibility_timeout       = 30
    inactivity_timeout       = 10
    error_visibility_timeout = 0
  }

  capacity {
    min                  = 1
    max                  = 4
    backlog_per_instance = 20
  }

  deployment {
    policy     = "rolling"
    batch_size = 1
  }
}
