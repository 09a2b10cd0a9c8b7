from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StrategiesConfig(AppConfig):
    name = "semrec.strategies"
    verbose_name = _("Strategies")

    def ready(self):
        from . import checks  # noqa: F401  (registers the system checks)
