"""Vector status of items and end users: the spaces that contain their vector, and whether it matches the current text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Prefetch
from django.utils.translation import gettext_lazy as _

from semrec.vectors.models import EmbeddingSpace, ItemVector, UserVector


class VectorState:
    FRESH = "fresh"
    STALE = "stale"
    MISSING = "missing"


STATE_LABELS = {
    VectorState.FRESH: _("encoded"),
    VectorState.STALE: _("stale: the text changed after encoding"),
    VectorState.MISSING: _("not encoded"),
}


@dataclass(frozen=True)
class SpaceStatus:
    """The vector of one item or user in one embedding space of its tenant."""

    space: EmbeddingSpace
    state: str
    #: When the vector was written; None when there is none.
    encoded_at: datetime | None

    @property
    def label(self) -> str:
        return str(STATE_LABELS[self.state])


def item_vector_prefetches() -> list[Prefetch]:
    """Prefetch an item's tenant's spaces and its vectors, without the embeddings themselves."""
    return [
        Prefetch("tenant__spaces", queryset=EmbeddingSpace.objects.order_by("pk")),
        Prefetch("vectors", queryset=ItemVector.objects.only("id", "item_id", "space_id", "text_hash", "encoded_at")),
    ]


def user_vector_prefetches() -> list[Prefetch]:
    return [
        Prefetch("tenant__spaces", queryset=EmbeddingSpace.objects.order_by("pk")),
        Prefetch("vectors", queryset=UserVector.objects.only("id", "user_id", "space_id", "updated_at")),
    ]


def item_vector_status(item) -> list[SpaceStatus]:
    """Return one status per space of the item's tenant. An item vector is stale when its text hash differs."""
    vectors = {vector.space_id: vector for vector in item.vectors.all()}
    statuses = []
    for space in item.tenant.spaces.all():
        vector = vectors.get(space.pk)
        if vector is None:
            statuses.append(SpaceStatus(space, VectorState.MISSING, None))
        else:
            state = VectorState.FRESH if vector.text_hash == item.text_hash else VectorState.STALE
            statuses.append(SpaceStatus(space, state, vector.encoded_at))
    return statuses


def user_vector_status(user) -> list[SpaceStatus]:
    """Return one status per space of the user's tenant.

    User vectors store no text hash, so a user vector is shown as encoded or missing, never as stale.
    """
    vectors = {vector.space_id: vector for vector in user.vectors.all()}
    statuses = []
    for space in user.tenant.spaces.all():
        vector = vectors.get(space.pk)
        state = VectorState.MISSING if vector is None else VectorState.FRESH
        statuses.append(SpaceStatus(space, state, vector.updated_at if vector else None))
    return statuses
