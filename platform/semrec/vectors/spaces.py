"""Find or create the embedding space of a strategy's encoder."""

from __future__ import annotations

from semrec.plugins import Encoder
from semrec.tenants.models import Tenant

from .models import EmbeddingSpace, config_fingerprint


def space_fingerprint(encoder: Encoder) -> str:
    return config_fingerprint(encoder.id, encoder.config.model_dump(mode="json"))


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
            "model_name": encoder.model_name,
            "dimension": encoder.dimension,
        },
    )
    return space
