"""System checks of the production settings that semrec adds."""

from django.conf import settings
from django.core import checks

from .views import parse_networks


@checks.register()
def check_metrics_networks(app_configs=None, **kwargs):
    try:
        parse_networks(settings.SEMREC_METRICS_ALLOWED_NETWORKS)
    except ValueError as err:
        return [
            checks.Error(
                f"SEMREC_METRICS_ALLOWED_NETWORKS is invalid: {err}.",
                hint="List CIDR networks separated by commas, such as 10.0.0.0/8,127.0.0.1/32, or leave it empty to allow any address.",
                id="semrec.ops.E001",
            )
        ]
    return []
