"""Strategy options that belong to the core: event weights, history handling, intent steering and model versions."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

#: Metrics the activation gate can compare; every one of them is better when higher.
ActivationMetric = Literal["precision", "recall", "ndcg", "map", "map_all_relevant", "mrr", "hit_rate"]

DEFAULT_EVENT_WEIGHTS = {
    "view": 1.0,
    "click": 1.5,
    "add_to_cart": 2.0,
    "purchase": 3.0,
    "like": 2.0,
    "rating": 1.0,
    "dislike": 0.0,
    "search": 1.0,
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
    search_history_limit: int = Field(
        20, ge=0, le=1000, description="Most recent searches whose query text joins the user's vector; 0 ignores searches."
    )
    intent_boost: float = Field(
        0.3,
        ge=0,
        le=10,
        description="How strongly the predicted intent boosts candidates by category: each candidate's normalised score "
        "gains this much times the probability of its categories. 0 turns the boost off.",
    )
    intent_min_probability: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Candidates whose categories together have a lower predicted probability are filtered out "
        "(unless too few would be left). 0 filters nothing.",
    )
    query_rerank_weight: float = Field(
        0.0,
        ge=0,
        le=10,
        description="With a query, the scorer's candidates are re-ranked by their normalised score plus this much "
        "times their normalised cosine similarity to the query. 0 turns the re-ranking off.",
    )
    query_candidates: int = Field(
        200, ge=10, le=5000, description="Candidates asked of the scorer for re-ranking by query_rerank_weight."
    )
    search_query_weight: float = Field(
        0.7,
        ge=0,
        le=1,
        description="Share of the query in personalised search scores; the rest goes to the user's intent vector.",
    )
    keep_versions: int = Field(
        5,
        ge=1,
        le=1000,
        description="Inactive model versions kept per trained role. After a new version is activated, older inactive "
        "versions beyond this many are deleted. The active version is never deleted.",
    )
    activation_margin: float | None = Field(
        None,
        ge=0,
        description="Activation gate: a newly trained version is activated only when the strategy with it scores at "
        "least the score with the active version minus this margin, in activation_metric at activation_k on a "
        "validation split. Otherwise it is stored inactive. Empty turns the gate off.",
    )
    activation_metric: ActivationMetric = Field(
        "ndcg", description="Metric the activation gate compares (precision, recall, ndcg, map, map_all_relevant, mrr, hit_rate)."
    )
    activation_k: int = Field(10, ge=1, le=1000, description="Cut-off K of the top-K lists the activation gate measures.")
    activation_max_users: int | None = Field(
        1000, ge=1, description="The activation gate evaluates a random sample of at most this many validation users; empty uses all."
    )

    def event_weight(self, kind: str, value: float | None, age_days: float) -> float:
        """Weight of one event, ``age_days`` before the user's newest event."""
        weight = self.event_weights.get(kind, DEFAULT_EVENT_WEIGHTS.get(kind, 0.0))
        if kind == "rating":
            span = max(self.rating_ceiling - self.rating_floor, 1e-9)
            weight *= min(max(((value or 0.0) - self.rating_floor) / span, 0.0), 1.0)
        if self.half_life_days and weight > 0:
            weight *= math.pow(0.5, max(age_days, 0.0) / self.half_life_days)
        return weight
