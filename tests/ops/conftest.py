"""Fixtures of the deployment tests: the Redis broker used by tests that need one."""

import os
import socket
from urllib.parse import urlparse

import pytest

REDIS_URL = os.environ.get("SEMREC_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def redis_url() -> str:
    """The test Redis URL; the test is skipped when nothing listens there."""
    parsed = urlparse(REDIS_URL)
    with socket.socket() as probe:
        probe.settimeout(1)
        if probe.connect_ex((parsed.hostname, parsed.port or 6379)) != 0:
            pytest.skip(f"no Redis broker at {REDIS_URL}")
    return REDIS_URL
