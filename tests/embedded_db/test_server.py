"""The embedded PostgreSQL: starts on demand, has pgvector, keeps data across restarts."""

import psycopg
import pytest
from django.db import connection

from semrec.embedded_db.server import ensure_database, ensure_server, socket_dir, stop_server


def test_tests_run_on_embedded_backend(db):
    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        row = cursor.fetchone()
    assert row is not None, "the migration must create the vector extension"


@pytest.fixture
def data_dir(tmp_path):
    path = tmp_path / "pgdata"
    yield path
    stop_server(path)


def _query(server, sql, dbname="semrec_probe"):
    with psycopg.connect(host=socket_dir(server), user="postgres", dbname=dbname, autocommit=True) as conn:
        return conn.execute(sql).fetchall() if sql.lstrip().upper().startswith("SELECT") else conn.execute(sql)


def test_server_reused_within_process(data_dir):
    first = ensure_server(data_dir)
    second = ensure_server(data_dir)
    assert first is second
    assert first.get_pid() is not None


def test_data_survives_restart(data_dir):
    server = ensure_server(data_dir)
    ensure_database(server, "semrec_probe")
    _query(server, "CREATE TABLE kept (value int); INSERT INTO kept VALUES (42)")
    pid = server.get_pid()

    stop_server(data_dir)
    restarted = ensure_server(data_dir)

    assert restarted.get_pid() != pid
    assert _query(restarted, "SELECT value FROM kept") == [(42,)]


def test_pgvector_available(data_dir):
    server = ensure_server(data_dir)
    ensure_database(server, "semrec_probe")
    _query(server, "CREATE EXTENSION IF NOT EXISTS vector")
    assert _query(server, "SELECT '[1,2]'::vector <-> '[1,3]'::vector") == [(1.0,)]
