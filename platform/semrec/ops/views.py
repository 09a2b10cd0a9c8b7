"""Probe and metrics endpoints: cheap, unauthenticated (probes) or restricted by network and token (metrics)."""

from __future__ import annotations

import hmac
import ipaddress
import logging

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST

from .health import check_readiness
from .metrics import exposition

logger = logging.getLogger(__name__)


@never_cache
@require_safe
def healthz(request):
    """Report that the process is up; touches neither the database nor the broker."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def readyz(request):
    """Report whether this process can serve: HTTP 200 when ready, 503 with the failed checks when not."""
    readiness = check_readiness()
    body = {
        "status": "ready" if readiness.ready else "not ready",
        "checks": readiness.checks,
        "strategies_loaded": readiness.strategies_loaded,
    }
    return JsonResponse(body, status=200 if readiness.ready else 503)


@never_cache
@require_safe
def metrics(request):
    """Prometheus exposition of the metrics, for allowed networks and the configured token only."""
    error = metrics_access_error(request)
    if error:
        logger.warning("Metrics request from %s rejected: %s", request.META.get("REMOTE_ADDR", "?"), error)
        return JsonResponse({"detail": error}, status=403)
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)


def parse_networks(values: list[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Parse CIDR networks; raise ValueError naming the first invalid entry."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError as err:
            raise ValueError(f"{value!r} is not an IP network such as 10.0.0.0/8 ({err})") from err
    return networks


def metrics_access_error(request) -> str | None:
    """Return why ``request`` may not read the metrics, or None when it may."""
    try:
        networks = parse_networks(settings.SEMREC_METRICS_ALLOWED_NETWORKS)
    except ValueError as err:
        # Fail closed: a typo in the list must not open the endpoint to everyone.
        logger.error("SEMREC_METRICS_ALLOWED_NETWORKS is invalid, so every metrics request is rejected: %s", err)
        return _("The metrics endpoint is misconfigured; see the server log.")
    if networks and not _address_in(request.META.get("REMOTE_ADDR", ""), networks):
        return _("Metrics may only be read from the networks listed in SEMREC_METRICS_ALLOWED_NETWORKS.")

    token = settings.SEMREC_METRICS_TOKEN
    if token:
        sent = request.META.get("HTTP_AUTHORIZATION", "")
        if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
            return _("Metrics need the token of SEMREC_METRICS_TOKEN, sent as 'Authorization: Bearer <token>'.")
    return None


def _address_in(remote_addr: str, networks) -> bool:
    try:
        address = ipaddress.ip_address(remote_addr)
    except ValueError:
        return False
    # An IPv4 client on a dual-stack socket shows up as ::ffff:a.b.c.d.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in network for network in networks)
