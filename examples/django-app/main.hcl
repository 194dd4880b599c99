# django-app: a Django site on Elastic Beanstalk's Python platform, the way EB's own Django
# tutorial deploys it: gunicorn serves mysite.wsgi, collectstatic runs as a container command
# and nginx serves the collected files at /static.

application "django-app" {
  region = "us-east-2"
}

environment "django-env" {
  application = application.django-app
  platform    = "python-3.12"
  properties = {
    DJANGO_SETTINGS_MODULE = "mysite.settings"
    SITE_GREETING          = "Hello from Django"
  }

  wsgi {
    path = "mysite.wsgi:application"
  }

  load_balancer {
    health_check {
      path = "/health"
    }
  }
}
