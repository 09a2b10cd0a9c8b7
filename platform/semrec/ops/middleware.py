"""Middleware: probes handled before everything else, and one log line plus metrics per request."""

from __future__ import annotations

import logging
import re
import time
import uuid

from django.conf import settings
from django.utils.functional import LazyObject

from . import views
from .metrics import REQUEST_DURATION, REQUESTS

logger = logging.getLogger(__name__)

PROBES = {"/healthz": views.healthz, "/readyz": views.readyz}

# Methods outside this set are counted as "other", so that made-up methods
# cannot add label values to the metrics without bound.
_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
# A request id sent by a proxy is kept when it looks like one; anything else is replaced.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")


class ProbeMiddleware:
    """Handle /healthz and /readyz before host validation, HTTPS redirects and sessions.

    Load balancers and orchestrators probe the container's own address over
    plain HTTP, which ALLOWED_HOSTS and SECURE_SSL_REDIRECT would reject.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        probe = PROBES.get(request.path_info.rstrip("/"))
        if probe is None:
            return self.get_response(request)
        return probe(request)


class RequestLogMiddleware:
    """Log one line per request (tenant, strategy, status, latency) and record its metrics."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = _request_id(request)
        started = time.perf_counter()
        response = self.get_response(request)
        duration = time.perf_counter() - started

        method = request.method if request.method in _METHODS else "other"
        endpoint = _endpoint(request)
        REQUEST_DURATION.labels(method, endpoint).observe(duration)
        REQUESTS.labels(method, endpoint, str(response.status_code)).inc()

        _log_request(request, response, method, endpoint, duration, request_id)
        response.headers.setdefault("X-Request-ID", request_id)
        return response


def _log_request(request, response, method: str, endpoint: str, duration: float, request_id: str) -> None:
    fields = {
        "method": method,
        # The path without its query string, which clients may misuse for credentials.
        "path": request.path,
        "status_code": response.status_code,
        "duration_ms": round(duration * 1000, 1),
        "tenant": _tenant(request),
        "strategy": _strategy(response),
        "endpoint": endpoint,
        "request_id": request_id,
        "remote_addr": request.META.get("REMOTE_ADDR", ""),
    }
    level = logging.ERROR if response.status_code >= 500 else logging.INFO
    logger.log(
        level,
        "%s %s %s %.1fms tenant=%s strategy=%s request_id=%s",
        fields["method"],
        fields["path"],
        fields["status_code"],
        fields["duration_ms"],
        fields["tenant"],
        fields["strategy"],
        request_id,
        extra=fields,
    )


def _request_id(request) -> str:
    sent = request.META.get("HTTP_X_REQUEST_ID", "")
    return sent if _REQUEST_ID.match(sent) else uuid.uuid4().hex


def _endpoint(request) -> str:
    """Name the route that served ``request``, a label with few values unlike the raw path."""
    match = getattr(request, "resolver_match", None)
    if match is not None:
        return match.view_name
    if request.path.startswith("/" + settings.STATIC_URL.lstrip("/")):
        return "static"
    return "unmatched"


def _tenant(request) -> str:
    # DRF stores its authenticated principal on the request; Django's own
    # lazy user (admin sessions) is left unevaluated so logging costs no query.
    user = request.__dict__.get("user")
    if user is None or isinstance(user, LazyObject):
        return "-"
    tenant = getattr(user, "tenant", None)
    return tenant.slug if tenant is not None else "-"


def _strategy(response) -> str:
    data = getattr(response, "data", None)
    if isinstance(data, dict) and isinstance(data.get("strategy"), str):
        return data["strategy"]
    return "-"
