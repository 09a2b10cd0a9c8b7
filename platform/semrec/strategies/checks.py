"""System checks: strategies that name plugins which are not installed or misconfigured."""

from django.core import checks
from django.db import DatabaseError

from .models import SLOTS, Strategy


@checks.register(checks.Tags.models)
def check_strategy_plugins(app_configs=None, **kwargs):
    try:
        strategies = list(Strategy.objects.select_related("tenant"))
    except DatabaseError:
        # Tables not migrated yet: nothing to check.
        return []

    problems = []
    for strategy in strategies:
        for slot in SLOTS:
            message = strategy._slot_error(slot)
            if message:
                problems.append(
                    checks.Error(
                        f"Strategy '{strategy}' {slot.field.replace('_', ' ')}: {message}",
                        hint="Install the plugin's package, or edit the strategy in the admin to pick an installed plugin.",
                        obj=strategy,
                        id="semrec.E001",
                    )
                )
    return problems
