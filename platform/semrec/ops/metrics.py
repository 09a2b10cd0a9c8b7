"""Prometheus metrics of the web processes and the Celery workers.

With ``PROMETHEUS_MULTIPROC_DIR`` set (as docker/entrypoint.sh does), every
process writes its samples to files in that folder and the exposition
aggregates them, so the gunicorn workers and Celery pool processes of one
container report as one. Without it, each process reports its own samples.
"""

from __future__ import annotations

import os

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

# Request latency buckets, in seconds: from a cached nearest-neighbour query
# to a first request that loads a model.
_REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Task buckets, in seconds: from a small re-encoding to hours of training.
_TASK_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 12 * 3600.0)

REQUEST_DURATION = Histogram(
    "semrec_http_request_duration_seconds",
    "Time from receiving an HTTP request to returning its response, by endpoint.",
    ["method", "endpoint"],
    buckets=_REQUEST_BUCKETS,
)
REQUESTS = Counter(
    "semrec_http_requests",
    "HTTP responses, by endpoint and status code.",
    ["method", "endpoint", "status"],
)
RECOMMENDATIONS = Counter(
    "semrec_recommendations",
    "Recommendation lists served, by tenant, strategy and kind (user, similar, search).",
    ["tenant", "strategy", "kind"],
)
FALLBACKS = Counter(
    "semrec_recommendation_fallbacks",
    "Recommendation lists served by the fallback scorer instead of the strategy's scorer.",
    ["tenant", "strategy", "kind"],
)
TASK_DURATION = Histogram(
    "semrec_task_duration_seconds",
    "Run time of Celery tasks, by task name and final state.",
    ["task", "state"],
    buckets=_TASK_BUCKETS,
)
TASK_FAILURES = Counter(
    "semrec_task_failures",
    "Celery tasks that raised an exception, by task name.",
    ["task"],
)


def exposition() -> bytes:
    """Render every metric of this process, or of all processes sharing the multiprocess folder."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)
