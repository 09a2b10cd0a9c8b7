"""gunicorn settings for the web role; docker/entrypoint.sh passes this file with --config.

WEB_CONCURRENCY sets the number of worker processes, GUNICORN_CMD_ARGS any
other gunicorn option (command-line arguments override both).
"""

import os

bind = os.environ.get("SEMREC_WEB_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Seconds a worker may spend on one request; the first request of a strategy
# may load an encoder model.
timeout = int(os.environ.get("SEMREC_WEB_TIMEOUT", "60"))
graceful_timeout = 30
# No control socket (gunicorn 27 has one, and older versions ignore this
# setting): the container is managed from outside, and replicas on one host
# would share its default path.
control_socket_disable = True
# semrec.ops logs one line per request, so gunicorn's access log stays off.
accesslog = None
errorlog = "-"
# Heartbeat files on a memory file system: container overlay disks can stall them.
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"

if os.environ.get("SEMREC_LOG_FORMAT") == "json":
    # gunicorn's own lines (start, stop, worker timeouts) as JSON too. The
    # root logger gets no handler, so semrec's lines are not printed twice,
    # and the access log stays off as above.
    logconfig_dict = {
        "root": {"level": "WARNING", "handlers": []},
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["error_console"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": [], "propagate": False},
        },
        "formatters": {"json": {"()": "semrec.ops.logs.JsonFormatter"}},
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"},
            "error_console": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"},
        },
    }


def child_exit(server, worker):
    """Tell the Prometheus client that a worker exited, so its live samples are dropped."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
