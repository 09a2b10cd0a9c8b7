"""Encode items soon after they are saved, so they become recommendable without a full encode run."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction

from .tasks import TRANSIENT_ERRORS, encode_changed_items_task

logger = logging.getLogger(__name__)


def queue_item_encoding(sender, tenant, item_pks: list[int], **kwargs) -> None:
    """Send one encode task for a saved batch once its transaction commits (receiver of ``items_saved``)."""
    if not settings.SEMREC_ENCODE_ON_SAVE or not item_pks:
        return
    transaction.on_commit(lambda: _send(tenant.pk, list(item_pks)))


def _send(tenant_id: int, item_pks: list[int]) -> None:
    # NOTE: without a broker the batch is encoded inside the request that
    # saved it, so a batch of thousands of new items makes that request slow.
    if settings.CELERY_TASK_ALWAYS_EAGER:
        _encode_inline(tenant_id, item_pks)
        return
    try:
        encode_changed_items_task.delay(tenant_id, item_pks)
    except TRANSIENT_ERRORS:
        # The items are saved. Celery beat's schedule check queues their
        # encoding again (tasks.queue_stale_items), and so does any full encode run.
        logger.exception("Tenant %s: could not queue %d saved items for encoding", tenant_id, len(item_pks))


def _encode_inline(tenant_id: int, item_pks: list[int]) -> None:
    result = encode_changed_items_task.apply(args=[tenant_id, item_pks], throw=False)
    if result.failed():
        logger.error(
            "Tenant %s: encoding %d saved items failed; the next full encode run retries them",
            tenant_id, len(item_pks), exc_info=result.result,
        )
