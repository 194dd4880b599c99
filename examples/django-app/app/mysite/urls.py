import os

from django.http import HttpResponse
from django.urls import path


def home(request):
    greeting = os.environ.get("SITE_GREETING", "Hello")
    settings_module = os.environ.get("DJANGO_SETTINGS_MODULE", "")
    print("request %s" % request.path, flush=True)
    return HttpResponse(
        "%s (settings: %s)\n" % (greeting, settings_module), content_type="text/plain"
    )


def health(request):
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [path("", home), path("health", health)]
