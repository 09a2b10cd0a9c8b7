"""Start and reuse the embedded PostgreSQL server."""

import logging
import threading
from pathlib import Path

import psycopg

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_servers: dict[Path, object] = {}


class EmbeddedDatabaseError(RuntimeError):
    """The embedded PostgreSQL server could not be started or prepared."""


def ensure_server(data_dir: str | Path):
    """Return a running server for ``data_dir``, starting it when needed."""
    path = Path(data_dir).expanduser().resolve()
    with _lock:
        server = _servers.get(path)
        if server is None:
            server = _start(path)
            _servers[path] = server
        return server


def stop_server(data_dir: str | Path) -> None:
    """Stop the server of ``data_dir`` if this process started it; the data stays."""
    path = Path(data_dir).expanduser().resolve()
    with _lock:
        server = _servers.pop(path, None)
    if server is not None:
        logger.info("Stopping embedded PostgreSQL in %s", path)
        server.cleanup()


def socket_dir(server) -> str:
    """Return the Unix socket folder that clients connect through."""
    return str(server.get_postmaster_info().socket_dir)


def ensure_database(server, name: str) -> None:
    """Create database ``name`` on the embedded server unless it exists."""
    with psycopg.connect(host=socket_dir(server), user="postgres", dbname="postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            logger.info("Creating database %s on the embedded server", name)
            conn.execute(f'CREATE DATABASE "{name}"')


def _start(path: Path):
    import warnings

    # platformdirs warns when XDG_RUNTIME_DIR is unset (as on servers and in
    # containers) and falls back to /tmp, which pgserver handles well.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

    path.parent.mkdir(parents=True, exist_ok=True)
    logger.info("Using the embedded PostgreSQL in %s (started unless it was running)", path)
    try:
        # cleanup_mode="stop": the server stops when the last process holding
        # a handle exits, and the data stays for the next start.
        return pgserver.get_server(path, cleanup_mode="stop")
    except Exception as err:
        log_file = path / "log"
        raise EmbeddedDatabaseError(
            f"Could not start the embedded PostgreSQL in {path}: {err}. "
            f"See its log at {log_file}, or set DATABASE_URL to use another server."
        ) from err
