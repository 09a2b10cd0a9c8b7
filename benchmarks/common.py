"""Helpers shared by the benchmark scripts.

The scripts share an embedded PostgreSQL of their own under
``$SEMREC_STATE_DIR`` (``/tmp/semrec-bench`` unless the variable is set), so a
benchmark never writes into the checkout's ``.semrec/`` database. Servers are
started on 127.0.0.1 only and stopped before the script exits.
"""

from __future__ import annotations

import http.client
import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_STATE_DIR = "/tmp/semrec-bench"
DEFAULT_DATASET = ROOT.parent / "shared" / "datasets" / "ml-latest-small"
HOST = "127.0.0.1"

os.environ.setdefault("SEMREC_STATE_DIR", DEFAULT_STATE_DIR)


def add_source_roots() -> None:
    """Put the platform and plugin folders on ``sys.path``, as manage.py does."""
    for source_root in ("platform", "plugins"):
        path = str(ROOT / source_root)
        if path not in sys.path:
            sys.path.insert(0, path)


def setup_django() -> None:
    """Configure Django in this process, with the same source roots as manage.py."""
    add_source_roots()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "semrec.settings")

    import django

    django.setup()


def open_database() -> None:
    """Connect once and migrate, so the embedded server stays up for this script's subprocesses.

    The embedded server stops when the last process that started or joined it
    exits. Once this process has connected, the server stays up until it
    exits, so each ``manage.py`` subprocess reuses it instead of starting it.
    """
    from django.core.management import call_command
    from django.db import connection

    connection.ensure_connection()
    call_command("migrate", verbosity=0)


def raw_connection_params() -> dict:
    """Return psycopg connection keywords for the database Django uses."""
    from django.db import connection

    connection.ensure_connection()
    settings = connection.settings_dict
    params = {"dbname": settings["NAME"], "user": settings["USER"] or None, "host": settings["HOST"] or None}
    if settings.get("PORT"):
        params["port"] = settings["PORT"]
    if settings.get("PASSWORD"):
        params["password"] = settings["PASSWORD"]
    return {key: value for key, value in params.items() if value is not None}


def describe_machine() -> dict:
    """Return the CPU count, CPU model, memory and load average of this machine."""
    model = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory_gib = None
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    memory_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
                    break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": memory_gib,
        "load_average_1min": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
    }


def print_header(title: str) -> None:
    machine = describe_machine()
    print(f"== {title}")
    print(
        f"machine: {machine['cpus']} CPUs ({machine['cpu_model']}), {machine['memory_gib']} GiB memory, "
        f"load average {machine['load_average_1min']}, Python {machine['python']}"
    )
    print(f"state dir: {os.environ['SEMREC_STATE_DIR']}" + ("; DATABASE_URL is set" if os.environ.get("DATABASE_URL") else ""))
    sys.stdout.flush()


def print_results(results: dict, json_path: str | None) -> None:
    """Print ``results`` as aligned lines, and write them as JSON when a path is given."""
    results = {**results, "load_average_1min_at_end": round(os.getloadavg()[0], 2)}
    print("== results")
    width = max(len(key) for key in results)
    for key, value in results.items():
        print(f"{key:<{width}}  {format_value(value)}")
    if json_path:
        Path(json_path).write_text(json.dumps({"machine": describe_machine(), **results}, indent=2) + "\n")
        print(f"wrote {json_path}")


def format_value(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value and abs(value) < 0.01:
            return f"{value:.2e}"
        return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def manage(*args: str, timeout: float) -> tuple[float, str]:
    """Run ``manage.py`` with ``args`` and return its wall-clock seconds and its standard output.

    Raises RuntimeError with the command's output when it fails or runs past ``timeout`` seconds.
    """
    command = [sys.executable, str(ROOT / "manage.py"), *args]
    started = time.perf_counter()
    try:
        completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as err:
        raise RuntimeError(f"manage.py {' '.join(args)} timed out after {timeout:.0f}s") from err
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(
            f"manage.py {' '.join(args)} failed with exit status {completed.returncode}:\n"
            f"{completed.stdout[-2000:]}\n{completed.stderr[-4000:]}"
        )
    return seconds, completed.stdout


def parse_rate(pattern: str, output: str) -> re.Match:
    """Find ``pattern`` in a command's output, or raise with the output shown."""
    match = re.search(pattern, output)
    if match is None:
        raise RuntimeError(
            f"Could not find /{pattern}/ in the command output. If the command's result line changed, "
            f"update the pattern in the benchmark script. Output:\n{output[-2000:]}"
        )
    return match


def to_float(text: str) -> float:
    return float(text.replace(",", ""))


def prepare_tenant(slug: str, dataset: Path, *, encode: bool = False, train: bool = False) -> None:
    """Import, encode and train tenant ``slug`` where that was not done yet, without timing any of it."""
    from semrec.catalog.models import Event
    from semrec.training.models import ModelVersion
    from semrec.vectors.models import ItemVector

    if not Event.objects.filter(tenant__slug=slug).exists():
        print(f"preparing tenant '{slug}': importing {dataset} ...", flush=True)
        manage("semrec_import", "--tenant", slug, "--create-tenant", "--path", str(dataset), "-v", "0", timeout=600)
    if encode and not ItemVector.objects.filter(space__tenant__slug=slug).exists():
        print(f"preparing tenant '{slug}': encoding items ...", flush=True)
        manage("semrec_encode", "--tenant", slug, "-v", "0", timeout=1200)
    if train and not ModelVersion.objects.filter(tenant__slug=slug, is_active=True).exists():
        print(f"preparing tenant '{slug}': training ...", flush=True)
        manage("semrec_train", "--tenant", slug, "-v", "0", timeout=600)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free at the time of the call."""
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class DevServer:
    """``manage.py runserver 127.0.0.1:PORT --noreload`` as a context manager.

    The server's output goes to ``$SEMREC_STATE_DIR/bench-server-PORT.log``.
    It is stopped with SIGINT (Ctrl+C) because only a normal shutdown runs the
    atexit handler that unregisters the process from the embedded PostgreSQL.
    A server killed by SIGTERM leaves that database server running.
    """

    def __init__(self, port: int, start_timeout: float = 90.0):
        self.port = port
        self.start_timeout = start_timeout
        self.log_path = Path(os.environ["SEMREC_STATE_DIR"]) / f"bench-server-{port}.log"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> DevServer:
        if port_accepts(self.port):
            raise RuntimeError(f"Port {self.port} on {HOST} is already in use. Pass another --port.")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "w")
        command = [sys.executable, str(ROOT / "manage.py"), "runserver", f"{HOST}:{self.port}", "--noreload"]
        self.process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + self.start_timeout
        while not port_accepts(self.port):
            if self.process.poll() is not None:
                raise RuntimeError(f"The dev server exited with status {self.process.returncode}; see {self.log_path}.")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"The dev server did not accept connections within {self.start_timeout:.0f}s; see {self.log_path}.")
            time.sleep(0.2)
        print(f"dev server pid {self.process.pid} on http://{HOST}:{self.port}/ (log: {self.log_path})", flush=True)
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        for sig, wait_seconds in ((signal.SIGINT, 15), (signal.SIGTERM, 10)):
            self.process.send_signal(sig)
            try:
                self.process.wait(wait_seconds)
                return
            except subprocess.TimeoutExpired:
                continue
        self.process.kill()
        self.process.wait()


def port_accepts(port: int) -> bool:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((HOST, port)) == 0


class ApiClient:
    """A keep-alive HTTP/1.1 client for the REST API of a local server.

    With ``quickack`` (the default, Linux only) the client acknowledges each
    response segment at once. runserver writes a response's headers and body
    in two ``send`` calls without TCP_NODELAY, so with the client's delayed
    ACK every response on a kept-alive connection otherwise waits about 40 ms
    for the body. On the 2-core test machine a 404 response took 48 ms
    without the option and 3 ms with it.
    """

    def __init__(self, port: int, api_key: str, timeout: float = 120.0, quickack: bool = True):
        self.port = port
        self.timeout = timeout
        self.quickack = quickack and hasattr(socket, "TCP_QUICKACK")
        self.headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
        self.connection = http.client.HTTPConnection(HOST, port, timeout=timeout)

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        """Send one request and return its status and body.

        A request that finds the kept-alive connection closed by the server
        is sent once more on a new connection.
        """
        for attempt in range(2):
            try:
                self.connection.request(method, path, body=body, headers=self.headers)
                if self.quickack:
                    # TCP_QUICKACK is not permanent (see tcp(7)), so it is set again for every response.
                    self.connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
                response = self.connection.getresponse()
                return response.status, response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.connection.close()
                self.connection = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout)
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.connection.close()


def peak_rss_mib(pid: int) -> float | None:
    """Return the peak resident set size (VmHWM in /proc/PID/status) of process ``pid`` in MiB, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def latency_summary(seconds: list[float]) -> dict:
    """Return p50, p99, mean and max of ``seconds``, in milliseconds."""
    values = np.asarray(seconds) * 1000.0
    return {
        "p50_ms": float(np.percentile(values, 50)),
        "p99_ms": float(np.percentile(values, 99)),
        "mean_ms": float(values.mean()),
        "max_ms": float(values.max()),
    }
