"""Find or create the embedding space of a strategy's encoder.

A space is keyed by the encoder's id and configuration. The vectors of an
encoder that fits on item texts also depend on the fitted state, so its
space is keyed by the loaded ModelVersion as well. Each fit thus gets a
space of its own, and two strategies with the same configuration never
share vectors of different fits. Spaces of older fits stay until deleted,
so that activating an older version again finds its vectors.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from semrec.plugins import Encoder
from semrec.tenants.models import Tenant

from .models import EmbeddingSpace, plugin_fingerprint

if TYPE_CHECKING:
    from semrec.training.models import ModelVersion


def space_fingerprint(encoder: Encoder) -> str:
    """Return the key of the encoder's space: its configuration, and its ModelVersion when fitted."""
    fingerprint = plugin_fingerprint(encoder)
    if encoder.model_version_id is None:
        return fingerprint
    payload = f"{fingerprint}:model-version:{encoder.model_version_id}"
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def load_model_version(encoder: Encoder, version: ModelVersion) -> None:
    """Load a ModelVersion's state into an encoder that fits on texts, which moves it to that version's space."""
    encoder.load(bytes(version.artifact))
    encoder.model_version_id = version.pk


def find_space(tenant: Tenant, encoder: Encoder) -> EmbeddingSpace | None:
    return EmbeddingSpace.objects.filter(tenant=tenant, fingerprint=space_fingerprint(encoder)).first()


def get_or_create_space(tenant: Tenant, encoder: Encoder) -> EmbeddingSpace:
    space = find_space(tenant, encoder)
    if space is not None:
        return space
    space, _ = EmbeddingSpace.objects.get_or_create(
        tenant=tenant,
        fingerprint=space_fingerprint(encoder),
        defaults={
            "encoder_id": encoder.id,
            "encoder_config": encoder.config.model_dump(mode="json"),
            "model_name": _model_name(encoder),
            "dimension": encoder.dimension,
            "model_version_id": encoder.model_version_id,
        },
    )
    return space


def _model_name(encoder: Encoder) -> str:
    if encoder.model_version_id is None:
        return encoder.model_name
    return f"{encoder.model_name} (model version {encoder.model_version_id})"
