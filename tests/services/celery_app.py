"""The Celery app of the service suites, as a host project would write it."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.services.settings")

app = Celery("verified_email_services")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Finds django_verified_email.tasks, which registers the package's task.
app.autodiscover_tasks()
