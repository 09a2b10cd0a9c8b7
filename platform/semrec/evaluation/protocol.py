"""Evaluation settings: the split protocol, the cut-offs and the relevance rule."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

#: Largest cut-off K accepted.
MAX_K = 1000


class SplitProtocol(models.TextChoices):
    LEAVE_LAST_OUT = "leave_last_out", _("leave last out (per user, by time)")
    RANDOM_BY_USER = "random_by_user", _("random, stratified by user")
    RANDOM_BY_ITEM = "random_by_item", _("random, stratified by item")
    RANDOM = "random", _("random, not stratified")


class EvaluationError(ValueError):
    """An evaluation cannot run: invalid settings, or data the evaluation cannot use."""


class EvaluationSettings(BaseModel):
    """Settings of one evaluation: the split, the relevance rule and the cut-offs K."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    protocol: SplitProtocol = Field(SplitProtocol.RANDOM_BY_USER, description="How user-item pairs are split.")
    train_ratio: float = Field(
        0.75, gt=0, lt=1, description="Share of each group's user-item pairs kept for training (random protocols)."
    )
    seed: int = Field(42, ge=0, description="Seed of the random split and of the user sample.")
    ks: tuple[int, ...] = Field((10,), min_length=1, description=f"Cut-offs K of the top-K lists, 1 to {MAX_K}.")
    min_rating: float | None = Field(
        None,
        description="Held-out ratings below this value are not relevant; empty counts every held-out interaction "
        "except dislikes as relevant.",
    )
    validation: bool = Field(
        False,
        description="Evaluate on a validation split carved from the training part with the same protocol, "
        "for tuning; the test part is then not used at all.",
    )
    max_users: int | None = Field(None, ge=1, description="Evaluate a random sample of at most this many test users.")

    @field_validator("ks")
    @classmethod
    def _sorted_unique_ks(cls, ks: tuple[int, ...]) -> tuple[int, ...]:
        invalid = [k for k in ks if not 1 <= k <= MAX_K]
        if invalid:
            raise ValueError(f"every K must be between 1 and {MAX_K}, got {invalid}")
        return tuple(sorted(set(ks)))

    @property
    def max_k(self) -> int:
        return self.ks[-1]


def parse_settings(raw: Mapping[str, Any]) -> EvaluationSettings:
    """Validate raw settings; raises EvaluationError that names every invalid field."""
    try:
        return EvaluationSettings.model_validate(dict(raw))
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'settings'}: {error['msg']} (got {error.get('input')!r})"
            for error in err.errors()
        )
        raise EvaluationError(f"Invalid evaluation settings: {problems}.") from err
