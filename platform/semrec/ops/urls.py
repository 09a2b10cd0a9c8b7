"""Probe and metrics routes. ProbeMiddleware handles the probes before these
routes are reached, so the probe routes serve only where it is left out."""

import re

from django.conf import settings
from django.urls import path, re_path

from . import views

app_name = "ops"

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    re_path(rf"^{re.escape(settings.SEMREC_METRICS_PATH)}/?$", views.metrics, name="metrics"),
]
