"""Readiness checks: the database, the Celery broker and the active model versions.

Details of a failure go to the log, not to the probe's response, because the
probe is unauthenticated and the details name internal hosts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from kombu.exceptions import KombuError

from semrec.embedded_db.server import EmbeddedDatabaseError

logger = logging.getLogger(__name__)

OK = "ok"
FAILED = "failed"
NOT_USED = "not used"
SKIPPED = "skipped"

# Seconds a readiness probe waits for the broker to accept a connection.
BROKER_CONNECT_TIMEOUT = 2.0


@dataclass
class Readiness:
    """The state of each check ("ok", "failed", "not used", "skipped") and how many strategies are loaded."""

    checks: dict[str, str]
    strategies_loaded: int = 0

    @property
    def ready(self) -> bool:
        return all(state in (OK, NOT_USED) for state in self.checks.values())


def check_readiness() -> Readiness:
    """Run every check; the model check needs the database, so it is skipped without one."""
    checks = {"database": check_database(), "broker": check_broker()}
    loaded = 0
    if checks["database"] == OK:
        checks["models"], loaded = check_models()
    else:
        checks["models"] = SKIPPED
    return Readiness(checks, loaded)


def check_database() -> str:
    connection = connections[DEFAULT_DB_ALIAS]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except (DatabaseError, EmbeddedDatabaseError) as err:
        logger.warning("Readiness: database %r is not reachable: %s", connection.settings_dict.get("NAME"), err)
        return FAILED
    return OK


def check_broker() -> str:
    """Open a connection to the Celery broker; "not used" when tasks run eagerly in-process."""
    from semrec.celery import app

    if app.conf.task_always_eager:
        return NOT_USED
    with app.connection_for_write(connect_timeout=BROKER_CONNECT_TIMEOUT) as connection:
        errors = (OSError, KombuError, *connection.connection_errors, *connection.channel_errors)
        try:
            connection.ensure_connection(max_retries=0, timeout=BROKER_CONNECT_TIMEOUT)
        except errors as err:
            logger.warning("Readiness: Celery broker %s is not reachable: %s", connection.as_uri(), err)
            return FAILED
    return OK


def check_models() -> tuple[str, int]:
    """Load the active model versions of every strategy that has any into this process's runtime cache.

    The first probe pays for loading; later ones find the runtimes cached and
    cost one query per strategy at most every SEMREC_RUNTIME_REFRESH_SECONDS.
    NOTE: this walks every strategy with active versions, so with thousands of
    tenants a probe does thousands of cache look-ups.
    """
    from semrec.recommend.runtime import get_runtime
    from semrec.strategies.models import Strategy
    from semrec.training.models import ModelVersion

    active = ModelVersion.objects.filter(is_active=True).values("strategy_id")
    loaded = 0
    for strategy in Strategy.objects.filter(pk__in=active).select_related("tenant").order_by("pk"):
        try:
            get_runtime(strategy)
        # Plugins' load() may raise anything on a damaged artefact; any of it
        # means this process cannot serve the strategy as trained.
        except Exception:
            logger.exception(
                "Readiness: tenant %s strategy %s: the active model versions could not be loaded",
                strategy.tenant_id,
                strategy.pk,
            )
            return FAILED, loaded
        loaded += 1
    return OK, loaded
