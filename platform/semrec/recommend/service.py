"""The recommendation pipeline: strategy, history, intent, scoring, filters, explanations."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.utils.translation import gettext as _

from semrec.catalog.history import load_history, load_searches
from semrec.catalog.models import Item, User
from semrec.plugins import Explanation, ScoredItem, get_registry
from semrec.strategies.models import Strategy
from semrec.tenants.models import Tenant
from semrec.vectors import search

from .context import DatabaseContext, item_titles
from .models import Recommendation
from .queries import query_vectors
from .runtime import StrategyRuntime, get_runtime

logger = logging.getLogger(__name__)

#: Extra candidates asked of scorers, so that filters still leave enough.
CANDIDATE_MARGIN = 20
#: Query similarity at or below which a search candidate counts as not matching the query at all.
QUERY_MATCH_FLOOR = 1e-6


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
    intent: dict[str, Any] | None = None


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
    query: str | None = None,
) -> RecommendationResult:
    """Recommend ``n`` items for ``user``, steered by ``query`` when given, and log the list.

    Raises StrategyNotFound for an unknown ``strategy_name``. Plugin failures
    do not raise. The fallback scorer serves the list instead, and ``notes``
    gives the reason.
    """
    strategy = resolve_strategy(tenant, strategy_name)
    runtime = get_runtime(strategy)
    options = strategy.parsed_options()
    context = _user_context(runtime, user, options, exclude_seen=exclude_seen)
    notes = _encode_query(runtime, context, query) + _apply_intent(runtime, context)

    reranking = context.query_vector is not None and options.query_rerank_weight > 0
    pool = max(n + CANDIDATE_MARGIN, options.query_candidates) if reranking else n + CANDIDATE_MARGIN
    scored, fell_back, score_notes = _score(runtime, context, pool)
    scored = rerank_by_query(scored, context, options.query_rerank_weight)
    top, titles = _available_top(scored, n, context.intent_distribution, options)
    explanations = _explain(runtime, top, context) if explain else {}
    items = _render(top, titles, explanations, explain)
    recommendation = Recommendation.objects.create(
        tenant=tenant, strategy=strategy, user=user, query=query or "", items=[row["id"] for row in items], fell_back=fell_back
    )
    intent = _top_intents(context) if explain else None
    return RecommendationResult(recommendation.id, strategy, items, fell_back, notes + score_notes, intent)


def search_items(
    tenant: Tenant,
    query: str,
    *,
    user: User | None = None,
    n: int = 10,
    exclude_seen: bool = False,
    explain: bool = False,
    strategy_name: str | None = None,
) -> RecommendationResult:
    """Rank items for ``query``, personalised by ``user``'s intent when given, and log the list.

    Each candidate scores ``w * cos(query, item) + (1 - w) * cos(intent, item)``
    with ``w`` the strategy's ``search_query_weight``; without a user the
    intent comes from the query alone.
    """
    strategy = resolve_strategy(tenant, strategy_name)
    runtime = get_runtime(strategy)
    options = strategy.parsed_options()
    context = _user_context(runtime, user, options, exclude_seen=exclude_seen)
    notes = _encode_query(runtime, context, query) + _apply_intent(runtime, context)

    if context.query_vector is None:
        scored, fell_back = runtime.fallback.score(context, n + CANDIDATE_MARGIN), True
        if runtime.scorer is None:
            notes.append(_unusable_strategy_note(runtime))
    else:
        scored, fell_back = _search_candidates(context, options.search_query_weight, n + CANDIDATE_MARGIN), False
        notes += _search_notes(runtime, strategy, scored)
    top, titles = _available_top(scored, n, context.intent_distribution, options)
    explanations = _explain(runtime, top, context) if explain and user is not None else {}
    items = _render(top, titles, explanations, explain)
    recommendation = Recommendation.objects.create(
        tenant=tenant,
        strategy=strategy,
        kind=Recommendation.Kind.SEARCH,
        user=user,
        query=query,
        items=[row["id"] for row in items],
        fell_back=fell_back,
    )
    intent = _top_intents(context) if explain else None
    return RecommendationResult(recommendation.id, strategy, items, fell_back, notes, intent)


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


def _user_context(runtime: StrategyRuntime, user: User | None, options, *, exclude_seen: bool) -> DatabaseContext:
    history, seen, searches = [], set(), []
    if user is not None:
        history, seen = load_history(user.pk, options)
        searches = load_searches(user.pk, options, history[0].timestamp if history else None)
    return DatabaseContext(
        space=runtime.space,
        encoder=runtime.space_encoder,
        tenant_id=runtime.strategy.tenant_id,
        strategy_id=runtime.strategy.pk,
        user_id=user.pk if user is not None else None,
        history=history,
        searches=searches,
        exclude=seen if exclude_seen else (),
    )


def _encode_query(runtime: StrategyRuntime, context: DatabaseContext, query: str | None) -> list[str]:
    """Set the context's query vector; return notes when the query could not be used."""
    if not query:
        return []
    context.query_text = query
    if runtime.plugins is None:
        return []
    encoder = runtime.space_encoder
    try:
        context.query_vector = query_vectors(encoder, [query])[query]
    except Exception as err:
        logger.exception("Tenant %s strategy %s: encoder %s failed on a query", context.tenant_id, context.strategy_id, encoder.id)
        return [_("The query could not be encoded (%(error)s); it was left out.") % {"error": err}]
    return []


def _apply_intent(runtime: StrategyRuntime, context: DatabaseContext) -> list[str]:
    """Run the strategy's intent model (or passthrough while it is untrained); return notes."""
    user_vector, query_vector = context.user_vector, context.query_vector
    if user_vector is None and query_vector is None:
        return []

    model, notes = runtime.intent_model, []
    if model is None and query_vector is None:
        return []
    if model is None or not model.is_fitted:
        if model is not None:
            notes.append(
                _("Intent model %(model)r has no trained version yet, so 'passthrough' read the intent instead. Train the strategy (manage.py semrec_train).")
                % {"model": model.id}
            )
        model = get_registry().create("intent_model", "passthrough")

    users = (user_vector if user_vector is not None else np.zeros_like(query_vector))[np.newaxis, :]
    queries = query_vector[np.newaxis, :] if query_vector is not None else None
    try:
        prediction = model.predict(users, queries)
    except Exception as err:
        logger.exception("Tenant %s strategy %s: intent model %s failed; scoring without intent", context.tenant_id, context.strategy_id, model.id)
        return notes + [_("Intent model %(model)r failed (%(error)s); scored without intent.") % {"model": model.id, "error": err}]
    context.intent_model_id = model.id
    context.intent_vector = prediction.vectors[0]
    if prediction.distributions:
        context.intent_distribution = prediction.distributions[0]
    return notes


def _search_notes(runtime: StrategyRuntime, strategy: Strategy, scored: list[ScoredItem]) -> list[str]:
    """Return notes that explain an empty or meaningless search result."""
    if runtime.space is None:
        return [
            _("Strategy %(strategy)r has no item vectors yet, so nothing can match the query. Run encoding (manage.py semrec_encode) and retry.")
            % {"strategy": strategy.name}
        ]
    if scored and max(entry.details.get("query", 0.0) for entry in scored) <= QUERY_MATCH_FLOOR:
        return [
            _(
                "No item is similar to the query: every candidate scored 0 against it. With an encoder per language, "
                "items in a language other than the query's never match it."
            )
        ]
    return []


def _search_candidates(context: DatabaseContext, query_weight: float, k: int) -> list[ScoredItem]:
    """Blend nearness to the query and to the intent vector over both neighbour lists."""
    query_vector = context.query_vector
    intent_vector = context.intent_vector if context.intent_vector is not None else query_vector
    candidates = {item_id for item_id, _ in context.nearest_items(query_vector, k)}
    if intent_vector is not query_vector:
        candidates |= {item_id for item_id, _ in context.nearest_items(intent_vector, k)}
    vectors = context.item_vectors(sorted(candidates))

    scored = []
    for item_id, vector in vectors.items():
        query_part = query_weight * float(vector @ query_vector)
        intent_part = (1.0 - query_weight) * float(vector @ intent_vector)
        scored.append(ScoredItem(item_id, query_part + intent_part, {"query": query_part, "intent": intent_part}))
    scored.sort(key=lambda entry: (-entry.score, entry.item_id))
    return scored[:k]


def rerank_by_query(scored: list[ScoredItem], context: DatabaseContext, weight: float) -> list[ScoredItem]:
    """Re-rank candidates by ``normalised score + weight * normalised cos(query, item)``.

    Without a query or with a weight of 0 the list is returned unchanged.
    """
    query = context.query_vector
    if query is None or weight == 0 or len(scored) < 2:
        return scored
    vectors = context.item_vectors([entry.item_id for entry in scored])
    similarity = {item_id: float(vector @ query) for item_id, vector in vectors.items()}
    scores = _min_max([entry.score for entry in scored])
    closeness = _min_max([similarity.get(entry.item_id, min(similarity.values(), default=0.0)) for entry in scored])

    reranked = []
    for entry, score, close in zip(scored, scores, closeness, strict=True):
        details = {**entry.details, "query": round(weight * close, 6)}
        reranked.append(ScoredItem(entry.item_id, score + weight * close, details))
    reranked.sort(key=lambda entry: (-entry.score, entry.item_id))
    return reranked


def _min_max(values: list[float]) -> list[float]:
    low, high = min(values), max(values)
    spread = (high - low) or 1.0
    return [(value - low) / spread for value in values]


def _top_intents(context: DatabaseContext, limit: int = 5) -> dict[str, Any] | None:
    model_id = context.intent_model_id
    if model_id is None:
        return None
    distribution = context.intent_distribution or {}
    ranked = sorted(distribution.items(), key=lambda pair: -pair[1])[:limit]
    return {"model": model_id, "top": [{"label": label, "probability": round(p, 4)} for label, p in ranked]}


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


def _available_top(scored: list[ScoredItem], n: int, distribution: dict[str, float] | None = None, options=None):
    """Keep available items, steer them by the predicted intent, and return the best ``n`` with titles."""
    ids = [entry.item_id for entry in scored]
    rows = Item.objects.filter(pk__in=ids, available=True).values_list("pk", "external_id", "title", "categories")
    titles = {pk: (external_id, title) for pk, external_id, title, _categories in rows}
    available = [entry for entry in scored if entry.item_id in titles]
    if distribution and options is not None:
        categories = {pk: cats for pk, _external_id, _title, cats in rows}
        available = steer_by_intent(available, categories, distribution, options.intent_boost, options.intent_min_probability, n)
    return available[:n], titles


def steer_by_intent(
    scored: list[ScoredItem],
    categories: dict[int, list[str]],
    distribution: dict[str, float],
    boost: float,
    min_probability: float,
    n: int,
) -> list[ScoredItem]:
    """Re-rank candidates by ``normalised score + boost * p(item's categories)``.

    Each item's details gain ``base`` (its min-max normalised score) and
    ``intent_boost``, which add up to its new score.

    Candidates whose categories have a predicted probability below
    ``min_probability`` are dropped, unless fewer than ``n`` would be left.
    """
    if not scored or (boost == 0 and min_probability == 0):
        return scored
    probability = {entry.item_id: min(1.0, sum(distribution.get(c, 0.0) for c in categories.get(entry.item_id) or [])) for entry in scored}
    if min_probability > 0:
        likely = [entry for entry in scored if probability[entry.item_id] >= min_probability]
        if len(likely) >= n:
            scored = likely
    if boost == 0:
        return scored

    high = max(entry.score for entry in scored)
    low = min(entry.score for entry in scored)
    spread = (high - low) or 1.0
    steered = []
    for entry in scored:
        base = (entry.score - low) / spread
        lift = boost * probability[entry.item_id]
        details = {**entry.details, "base": round(base, 6), "intent_boost": round(lift, 6)}
        steered.append(ScoredItem(entry.item_id, base + lift, details))
    steered.sort(key=lambda entry: (-entry.score, entry.item_id))
    return steered


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
