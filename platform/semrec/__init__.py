"""semrec: a plugin-based recommendation platform built on Django."""

from .celery import app as celery_app

__all__ = ["celery_app"]
__version__ = "0.1.0"
