"""Top-level URL configuration: the admin, the versioned REST API, probes and metrics."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("semrec.api.urls")),
    # /healthz, /readyz and the Prometheus metrics (SEMREC_METRICS_PATH).
    path("", include("semrec.ops.urls")),
]
