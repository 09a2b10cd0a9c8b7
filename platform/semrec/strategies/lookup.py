from django.core.management.base import CommandError

from semrec.recommend.service import StrategyNotFound, resolve_strategy

from .models import Strategy


def get_strategy(tenant, name: str | None) -> Strategy:
    try:
        return resolve_strategy(tenant, name)
    except StrategyNotFound as err:
        raise CommandError(str(err)) from err
