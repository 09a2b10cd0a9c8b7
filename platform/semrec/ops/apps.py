from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OpsConfig(AppConfig):
    name = "semrec.ops"
    verbose_name = _("Operations")

    def ready(self):
        from . import checks, receivers  # noqa: F401  (registers the system checks and signal receivers)
