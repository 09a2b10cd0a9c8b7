"""DATABASE_URL: migrations against another PostgreSQL server, with and without pgvector."""

import os
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest

from semrec.embedded_db.server import ensure_database, ensure_server, socket_dir, stop_server

ROOT = Path(__file__).resolve().parents[2]


def _migrate(database_url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "-v", "0"],
        capture_output=True, text=True, env=env, timeout=300,
    )


@pytest.fixture
def external_server(tmp_path):
    """A second PostgreSQL with pgvector, standing in for a production server."""
    data_dir = tmp_path / "external"
    server = ensure_server(data_dir)
    ensure_database(server, "semrec_external")
    yield server
    stop_server(data_dir)


def test_migrate_creates_vector_extension(external_server):
    host = socket_dir(external_server)
    result = _migrate(f"postgres://postgres@{quote(host, safe='')}/semrec_external")
    assert result.returncode == 0, result.stderr[-3000:]
    with psycopg.connect(host=host, user="postgres", dbname="semrec_external") as conn:
        assert conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone()
        assert conn.execute("SELECT to_regclass('vectors_itemvector')").fetchone()[0] == "vectors_itemvector"


def _reachable(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex((host, port)) == 0


def _has_pgvector(url: str) -> bool:
    with psycopg.connect(url) as conn:
        return bool(conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'").fetchone())


def test_server_without_pgvector_explains_fix():
    url = os.environ.get("SEMREC_PLAIN_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    if not _reachable("127.0.0.1", 5432):
        pytest.skip("no PostgreSQL on 127.0.0.1:5432")
    try:
        if _has_pgvector(url):
            pytest.skip("the PostgreSQL on 127.0.0.1:5432 has pgvector")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS semrec_no_vector")
            conn.execute("CREATE DATABASE semrec_no_vector")
    except psycopg.OperationalError as err:
        pytest.skip(f"cannot use the PostgreSQL on 127.0.0.1:5432: {err}")

    try:
        result = _migrate(url.rsplit("/", 1)[0] + "/semrec_no_vector")
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS semrec_no_vector")
    assert result.returncode != 0
    assert "Could not create the pgvector extension" in result.stderr
    assert "unset DATABASE_URL" in result.stderr
