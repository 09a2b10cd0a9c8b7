"""Strategy options that belong to the core: event weights and history handling."""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_EVENT_WEIGHTS = {
    "view": 1.0,
    "click": 1.5,
    "add_to_cart": 2.0,
    "purchase": 3.0,
    "like": 2.0,
    "rating": 1.0,
    "dislike": 0.0,
    "search": 0.0,
}


class StrategyOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_weights: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_EVENT_WEIGHTS),
        description="Weight of each event kind in user vectors and training; 0 ignores the kind.",
    )
    rating_floor: float = Field(2.0, description="Ratings at or below this count as no interest.")
    rating_ceiling: float = Field(5.0, description="Ratings at this value get the full rating weight.")
    half_life_days: float | None = Field(
        180.0, gt=0, description="An event loses half its weight this many days before the user's newest one; empty keeps all weights."
    )
    history_limit: int = Field(500, ge=1, le=100_000, description="Most recent events read per user at request time.")

    def event_weight(self, kind: str, value: float | None, age_days: float) -> float:
        """Weight of one event, ``age_days`` before the user's newest event."""
        weight = self.event_weights.get(kind, DEFAULT_EVENT_WEIGHTS.get(kind, 0.0))
        if kind == "rating":
            span = max(self.rating_ceiling - self.rating_floor, 1e-9)
            weight *= min(max(((value or 0.0) - self.rating_floor) / span, 0.0), 1.0)
        if self.half_life_days and weight > 0:
            weight *= math.pow(0.5, max(age_days, 0.0) / self.half_life_days)
        return weight
