from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApiConfig(AppConfig):
    name = "semrec.api"
    verbose_name = _("REST API")

    def ready(self):
        # Importing registers the OpenAPI extensions with drf-spectacular.
        from . import schema  # noqa: F401
