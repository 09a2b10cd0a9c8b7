"""Helpers for tests that start semrec processes: clean environments, free ports, cleanup."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"

# Variables that would change what settings a child process loads.
_SETTINGS_VARIABLES = (
    "DEBUG", "SECRET_KEY", "SECRET_KEY_FALLBACKS", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "DATABASE_URL",
    "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "SEMREC_LOG_FORMAT", "SEMREC_METRICS_TOKEN",
    "SEMREC_METRICS_ALLOWED_NETWORKS", "SEMREC_METRICS_PATH", "SECURE_SSL_REDIRECT", "SECURE_PROXY_SSL_HEADER",
    "SECURE_HSTS_SECONDS", "SECURE_HSTS_PRELOAD", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE", "SEMREC_ARTIFACT_DIR", "HF_HOME", "PROMETHEUS_MULTIPROC_DIR", "SEMREC_WORKER_METRICS_PORT",
    "SEMREC_MIGRATE", "WEB_CONCURRENCY", "DJANGO_SETTINGS_MODULE",
)


def child_environment(**overrides: str) -> dict[str, str]:
    """This process's environment without semrec's settings, plus ``overrides``.

    The virtual environment's bin folder comes first on PATH, as it would in
    the image, so the entry point finds python, gunicorn and celery.
    """
    env = {key: value for key, value in os.environ.items() if key not in _SETTINGS_VARIABLES}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.update(overrides)
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(command: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """Start ``command`` in a session of its own, so that stop() reaches its children too."""
    log = open(log_path, "w")
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    process.log_path = log_path
    process.log_file = log
    return process


def stop(process: subprocess.Popen, timeout: float = 30.0) -> None:
    """Terminate the process group started by start(), then kill what is left."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=timeout)
        except ProcessLookupError:
            pass
    # Pool processes may outlive their parent for a moment.
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.log_file.close()


def output(process: subprocess.Popen) -> str:
    process.log_file.flush()
    return process.log_path.read_text()


def http_get(url: str, headers: dict[str, str] | None = None, timeout: float = 30.0) -> tuple[int, str]:
    """GET ``url`` and return the status and body; redirects are returned, not followed."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def wait_for_http(url: str, process: subprocess.Popen, timeout: float = 180.0) -> None:
    """Poll ``url`` until it returns any response; fail with the process output if it exits or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"process exited with {process.returncode}:\n{output(process)[-4000:]}")
        try:
            http_get(url, timeout=5)
            return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} did not respond within {timeout:g} s:\n{output(process)[-4000:]}")


def run_python(code: str, env: dict[str, str], timeout: float = 120.0) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter with semrec's source roots on the path."""
    env = {**env, "PYTHONPATH": os.pathsep.join([str(ROOT / "platform"), str(ROOT / "plugins")])}
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
