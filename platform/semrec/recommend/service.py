"""The recommendation pipeline: strategy, history, intent, scoring, filters, explanations."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.utils.translation import gettext as _

from semrec.catalog.history import load_history
from semrec.catalog.models import Item, User
from semrec.plugins import Explanation, ScoredItem
from semrec.strategies.models import Strategy
from semrec.tenants.models import Tenant
from semrec.vectors import search

from .context import DatabaseContext, item_titles
from .models import Recommendation
from .runtime import StrategyRuntime, get_runtime

logger = logging.getLogger(__name__)

#: Extra candidates asked of scorers, so that filters still leave enough.
CANDIDATE_MARGIN = 20


class StrategyNotFound(LookupError):
    pass


class ItemNotEncoded(LookupError):
    pass


@dataclass
class RecommendationResult:
    id: uuid.UUID
    strategy: Strategy
    items: list[dict[str, Any]]
    fell_back: bool = False
    notes: list[str] = field(default_factory=list)
    intent: dict[str, float] | None = None


def resolve_strategy(tenant: Tenant, name: str | None) -> Strategy:
    """Return the named strategy, or the tenant's default (created when missing)."""
    if name:
        strategy = Strategy.objects.filter(tenant=tenant, name=name).select_related("tenant").first()
        if strategy is None:
            names = ", ".join(Strategy.objects.filter(tenant=tenant).order_by("name").values_list("name", flat=True)) or _("none")
            raise StrategyNotFound(_("Strategy %(name)r does not exist. Strategies of this tenant: %(names)s.") % {"name": name, "names": names})
        return strategy
    strategy = Strategy.objects.filter(tenant=tenant, is_default=True).select_related("tenant").first()
    if strategy is None:
        strategy, _created = Strategy.objects.get_or_create(tenant=tenant, name="default", defaults={"is_default": True})
    return strategy


def recommend_for_user(
    tenant: Tenant,
    user: User,
    *,
    n: int = 10,
    exclude_seen: bool = True,
    explain: bool = False,
    strategy_name: str | None = None,
) -> RecommendationResult:
    """Recommend ``n`` items for ``user`` and log the list as a Recommendation.

    Raises StrategyNotFound for an unknown ``strategy_name``. Plugin failures
    do not raise. The fallback scorer serves the list instead, and ``notes``
    gives the reason.
    """
    strategy = resolve_strategy(tenant, strategy_name)
    runtime = get_runtime(strategy)
    history, seen = load_history(user.pk, strategy.parsed_options())
    context = DatabaseContext(
        space=runtime.space,
        tenant_id=tenant.pk,
        strategy_id=strategy.pk,
        user_id=user.pk,
        history=history,
        exclude=seen if exclude_seen else (),
    )
    _apply_intent(runtime, context)

    scored, fell_back, notes = _score(runtime, context, n + CANDIDATE_MARGIN)
    top, titles = _available_top(scored, n)
    explanations = _explain(runtime, top, context) if explain else {}
    items = _render(top, titles, explanations, explain)
    recommendation = Recommendation.objects.create(
        tenant=tenant, strategy=strategy, user=user, items=[row["id"] for row in items], fell_back=fell_back
    )
    return RecommendationResult(recommendation.id, strategy, items, fell_back, notes, context.intent_distribution)


def similar_items(tenant: Tenant, item: Item, *, n: int = 10, strategy_name: str | None = None) -> RecommendationResult:
    """Return the ``n`` nearest neighbours of ``item`` in the strategy's embedding space.

    Raises ItemNotEncoded when the item has no vector in that space yet.
    """
    strategy = resolve_strategy(tenant, strategy_name)
    runtime = get_runtime(strategy)
    if runtime.scorer is None:
        # The strategy's plugins cannot be built, so it has no embedding space to search.
        context = DatabaseContext(
            space=None, tenant_id=tenant.pk, strategy_id=strategy.pk, user_id=None, history=[], exclude={item.pk}
        )
        scored = runtime.fallback.score(context, n + CANDIDATE_MARGIN)
        fell_back, notes = True, [_unusable_strategy_note(runtime)]
    else:
        vector = search.item_vectors(runtime.space, [item.pk]).get(item.pk) if runtime.space else None
        if vector is None:
            raise ItemNotEncoded(
                _("Item %(id)r has no vector in strategy %(strategy)r yet. Run encoding (manage.py semrec_encode) and retry.")
                % {"id": item.external_id, "strategy": strategy.name}
            )
        # The margin covers neighbours that the search drops as unavailable after its LIMIT.
        pairs = search.nearest_items(runtime.space, vector, n + CANDIDATE_MARGIN, [item.pk])
        scored = [ScoredItem(item_id, similarity, {"content": similarity}) for item_id, similarity in pairs]
        fell_back, notes = False, []
    top, titles = _available_top(scored, n)
    items = _render(top, titles, {}, explain=False)
    recommendation = Recommendation.objects.create(
        tenant=tenant,
        strategy=strategy,
        kind=Recommendation.Kind.SIMILAR,
        source_item=item,
        items=[row["id"] for row in items],
        fell_back=fell_back,
    )
    return RecommendationResult(recommendation.id, strategy, items, fell_back, notes)


def _apply_intent(runtime: StrategyRuntime, context: DatabaseContext) -> None:
    model = runtime.intent_model
    user_vector = context.user_vector
    if model is None or user_vector is None:
        return
    try:
        prediction = model.predict(user_vector[np.newaxis, :], None)
    except Exception:
        logger.exception("Tenant %s strategy %s: intent model %s failed; scoring without intent", context.tenant_id, context.strategy_id, model.id)
        return
    context.intent_vector = prediction.vectors[0]
    if prediction.distributions:
        context.intent_distribution = prediction.distributions[0]


def _score(runtime: StrategyRuntime, context: DatabaseContext, k: int) -> tuple[list[ScoredItem], bool, list[str]]:
    """Score with the strategy's scorer; on failure or no result, with its fallback."""
    notes = []
    if runtime.scorer is None:
        notes.append(_unusable_strategy_note(runtime))
    else:
        try:
            scored = runtime.scorer.score(context, k)
        except Exception as err:
            logger.exception("Tenant %s strategy %s: scorer %s failed, serving fallback", context.tenant_id, context.strategy_id, runtime.scorer.id)
            notes.append(_("Scorer %(scorer)r failed (%(error)s); served the fallback scorer instead.") % {"scorer": runtime.scorer.id, "error": err})
        else:
            if scored:
                return scored, False, notes
            notes.append(_("Not enough history for this user yet; served the fallback scorer instead."))
    return runtime.fallback.score(context, k), True, notes


def _unusable_strategy_note(runtime: StrategyRuntime) -> str:
    return _("The strategy cannot be used: %(error)s Served the fallback scorer instead.") % {"error": runtime.error}


def _available_top(scored: list[ScoredItem], n: int):
    ids = [entry.item_id for entry in scored]
    rows = Item.objects.filter(pk__in=ids, available=True).values_list("pk", "external_id", "title")
    titles = {pk: (external_id, title) for pk, external_id, title in rows}
    top = [entry for entry in scored if entry.item_id in titles][:n]
    return top, titles


def _explain(runtime: StrategyRuntime, top: list[ScoredItem], context: DatabaseContext) -> dict[int, Explanation]:
    explainer = runtime.plugins.explainer if runtime.plugins else None
    if explainer is None or not top:
        return {}
    try:
        explanations = explainer.explain(top, context)
    except Exception:
        logger.exception("Tenant %s strategy %s: explainer %s failed", context.tenant_id, context.strategy_id, explainer.id)
        return {}
    return {explanation.item_id: explanation for explanation in explanations}


def _render(top: list[ScoredItem], titles, explanations: dict[int, Explanation], explain: bool) -> list[dict[str, Any]]:
    evidence_ids = [e.item_id for explanation in explanations.values() for e in explanation.evidence]
    evidence_titles = item_titles(evidence_ids) if evidence_ids else {}
    items = []
    for entry in top:
        external_id, title = titles[entry.item_id]
        row: dict[str, Any] = {"id": external_id, "title": title, "score": round(float(entry.score), 6)}
        if explain:
            row["explanation"] = _render_explanation(entry, explanations.get(entry.item_id), evidence_titles)
        items.append(row)
    return items


def _render_explanation(entry: ScoredItem, explanation: Explanation | None, evidence_titles) -> dict[str, Any]:
    rendered: dict[str, Any] = {"scorers": {name: round(value, 6) for name, value in entry.details.items()}}
    if explanation is not None:
        rendered["reason"] = explanation.reason
        rendered["because"] = [
            {"id": evidence_titles[e.item_id][0], "title": evidence_titles[e.item_id][1], "similarity": round(e.similarity, 4)}
            for e in explanation.evidence
            if e.item_id in evidence_titles
        ]
    return rendered
