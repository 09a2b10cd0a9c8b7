"""The embedding space that serves a strategy, and the switch from one space to the next.

A strategy's *target space* is the space of the encoder it is configured
with (for an encoder fitted on item texts, the space of its active fit). A
space is *complete* once an encode run has encoded every item into it. That
run sets ``EmbeddingSpace.completed_at`` and points ``Strategy.serving_space``
at the space in one transaction, which is the switch.

Serving uses the target space when it is complete. Otherwise, for example
right after an admin changed the strategy's encoder, it keeps serving from
``Strategy.serving_space``, the last space an encode run completed for the
strategy, with an encoder rebuilt from that space's ``encoder_id``,
``encoder_config`` and ``model_version``. Item vectors, user vectors and
query vectors then all come from the old encoder until the encode of the new
one completes. Serving processes read the strategy row on every request, so
they switch at their next request after the commit.

A strategy without a serving space (never encoded, or last encoded before the
pointer existed) serves its target space, complete or not.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from semrec.plugins import Encoder, PluginError, get_registry
from semrec.strategies.models import Strategy

from .models import EmbeddingSpace
from .spaces import load_model_version

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServingSpace:
    """The space a strategy serves from and the encoder that built it."""

    space: EmbeddingSpace | None
    encoder: Encoder
    #: True when an older space serves because the target space is missing or not complete yet.
    switching: bool = False


def rebuild_encoder(space: EmbeddingSpace) -> Encoder:
    """Create the encoder that produced ``space``'s vectors; raises PluginError or ValueError when it cannot."""
    encoder = get_registry().create("encoder", space.encoder_id, space.encoder_config)
    if space.model_version_id is not None:
        load_model_version(encoder, space.model_version)
    return encoder


def resolve_serving_space(strategy: Strategy, encoder: Encoder, target: EmbeddingSpace | None) -> ServingSpace:
    """Return the space to serve ``strategy`` from, given its configured ``encoder`` and that encoder's ``target`` space."""
    if target is not None and target.is_complete:
        return ServingSpace(target, encoder)
    previous = _serving_space(strategy)
    if previous is None or (target is not None and previous.pk == target.pk):
        return ServingSpace(target, encoder)
    try:
        old_encoder = rebuild_encoder(previous)
    except (PluginError, ValueError) as err:
        logger.warning(
            "Tenant %s strategy %s: space %s cannot keep serving while space %s is encoded, because its encoder %s "
            "cannot be rebuilt: %s",
            strategy.tenant_id, strategy.pk, previous.pk, target and target.pk, previous.encoder_id, err,
        )
        return ServingSpace(target, encoder)
    return ServingSpace(previous, old_encoder, switching=True)


def _serving_space(strategy: Strategy) -> EmbeddingSpace | None:
    if strategy.serving_space_id is None:
        return None
    return EmbeddingSpace.objects.select_related("model_version").filter(pk=strategy.serving_space_id).first()


def complete_space(strategy: Strategy, space: EmbeddingSpace, serve: bool = True) -> None:
    """Mark ``space`` complete and, with ``serve``, make it the strategy's serving space, in one transaction."""
    with transaction.atomic():
        EmbeddingSpace.objects.filter(pk=space.pk, completed_at__isnull=True).update(completed_at=timezone.now())
        switched = 0
        if serve:
            switched = Strategy.objects.filter(pk=strategy.pk).exclude(serving_space=space).update(serving_space=space)
    space.refresh_from_db(fields=["completed_at"])
    if switched:
        logger.info("Tenant %s strategy %s: now serving from space %s (%s)", strategy.tenant_id, strategy.pk, space.pk, space.encoder_id)
    if serve:
        strategy.serving_space_id = space.pk
