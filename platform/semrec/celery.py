"""The Celery application; workers start it with ``celery -A semrec worker``."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "semrec.settings")

app = Celery("semrec")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
