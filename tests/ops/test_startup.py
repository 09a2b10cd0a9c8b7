"""Start-up commands: waiting for the database and migrating once under an advisory lock."""

import io
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DEFAULT_DB_ALIAS, connections

from semrec.ops.database import MIGRATION_LOCK_KEY, StartupError, migrate_once, pending_migrations

from .processes import ROOT, child_environment, free_port


@pytest.fixture
def lock_holder(db):
    """A second connection that holds the migration lock, as a replica in the middle of migrating does."""
    holder = connections.create_connection(DEFAULT_DB_ALIAS)
    with holder.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK_KEY])
    yield holder
    holder.close()


def _call(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_migrate_waits_for_lock_then_times_out(lock_holder, caplog):
    with pytest.raises(StartupError) as raised:
        migrate_once(lock_timeout=1.5)

    assert "Another process has held the migration lock" in str(raised.value)
    assert "--lock-timeout" in str(raised.value)
    assert "Another replica is migrating" in caplog.text


def test_migrate_proceeds_once_lock_is_released(lock_holder):
    lock_holder.close()

    assert migrate_once(lock_timeout=5) == []


def test_migrate_command_on_current_schema(db):
    assert pending_migrations() == []

    output = _call("semrec_migrate", "--wait", "5")

    assert "is up to date; no migrations applied" in output


def test_wait_command_on_reachable_database(db):
    assert "accepted a connection (attempt 1)" in _call("semrec_wait_db", "--timeout", "5")


@pytest.mark.parametrize("command, option", [("semrec_migrate", "--wait"), ("semrec_migrate", "--lock-timeout"), ("semrec_wait_db", "--timeout")])
def test_commands_reject_non_positive_times(command, option):
    with pytest.raises(CommandError) as raised:
        _call(command, option, "0")

    assert f"{option} must be a positive number of seconds, not 0.0" in str(raised.value)


def test_wait_command_fails_on_unreachable_database():
    url = f"postgres://semrec:pw-never-logged@127.0.0.1:{free_port()}/semrec"

    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "semrec_wait_db", "--timeout", "2"],
        env=child_environment(DATABASE_URL=url), cwd=ROOT, capture_output=True, text=True, timeout=60,
    )

    assert result.returncode == 1
    assert "The database 'semrec' on 127.0.0.1:" in result.stderr
    assert "did not respond within 2 s" in result.stderr
    assert "Check DATABASE_URL" in result.stderr
    assert "pw-never-logged" not in result.stdout + result.stderr
