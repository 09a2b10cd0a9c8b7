"""Start-up steps against the database: wait until it accepts connections, then migrate once across replicas."""

from __future__ import annotations

import logging
import time

from django.core.management import call_command
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor

logger = logging.getLogger(__name__)

# Key of the PostgreSQL advisory lock held while migrating: "semrec" in ASCII.
# Advisory locks are scoped to one database, so the key only has to be unique
# among the applications sharing that database.
MIGRATION_LOCK_KEY = int.from_bytes(b"semrec", "big")


class StartupError(RuntimeError):
    """The database did not accept connections, or the migration lock was not granted, in time."""


def describe_database(alias: str = DEFAULT_DB_ALIAS) -> str:
    """Name the database and its server for messages, without the password."""
    settings_dict = connections[alias].settings_dict
    host = settings_dict.get("HOST") or "the embedded server"
    port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
    return f"database '{settings_dict.get('NAME')}' on {host}{port}"


def wait_for_database(timeout: float, interval: float = 1.0, alias: str = DEFAULT_DB_ALIAS) -> int:
    """Retry a ``SELECT 1`` until it succeeds; return the number of attempts.

    Raises StartupError with the last error when ``timeout`` seconds pass first.
    """
    connection = connections[alias]
    deadline = time.monotonic() + timeout
    attempt = 0
    while True:
        attempt += 1
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            return attempt
        except DatabaseError as err:
            connection.close()
            if time.monotonic() + interval > deadline:
                raise StartupError(
                    f"The {describe_database(alias)} did not respond within {timeout:g} s: {err}. "
                    "Check DATABASE_URL and that the server is running and reachable."
                ) from err
            logger.info("Waiting for the %s (attempt %d): %s", describe_database(alias), attempt, err)
            time.sleep(interval)


def pending_migrations(alias: str = DEFAULT_DB_ALIAS) -> list[str]:
    """Return the migrations that ``migrate`` would apply, as "app.name" strings."""
    executor = MigrationExecutor(connections[alias])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _backwards in plan]


def migrate_once(lock_timeout: float, stdout=None, alias: str = DEFAULT_DB_ALIAS) -> list[str]:
    """Apply pending migrations while holding the migration lock; return what was applied.

    Replicas that start together queue on the lock. The first to get it
    migrates, and the others then find nothing pending and return an empty list.
    """
    lock_connection = connections.create_connection(alias)
    try:
        _acquire_lock(lock_connection, lock_timeout)
        pending = pending_migrations(alias)
        if not pending:
            logger.info("The %s is up to date: no migrations to apply", describe_database(alias))
            return []
        logger.info("Applying %d migrations to the %s", len(pending), describe_database(alias))
        call_command("migrate", database=alias, interactive=False, stdout=stdout, verbosity=1)
        return pending
    finally:
        lock_connection.close()


def _acquire_lock(lock_connection, timeout: float, interval: float = 1.0) -> None:
    # The lock belongs to the session of lock_connection, a connection of its
    # own, so migrate may open and close the usual connection freely. Closing
    # lock_connection releases the lock, and so does this process dying.
    deadline = time.monotonic() + timeout
    while True:
        with lock_connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [MIGRATION_LOCK_KEY])
            if cursor.fetchone()[0]:
                return
        if time.monotonic() + interval > deadline:
            raise StartupError(
                f"Another process has held the migration lock of the {describe_database()} for over {timeout:g} s. "
                f"Check for a stuck migration (pg_locks, objid {MIGRATION_LOCK_KEY & 0xFFFFFFFF}) or raise --lock-timeout."
            )
        logger.info("Another replica is migrating the %s; waiting for it to finish", describe_database())
        time.sleep(interval)
