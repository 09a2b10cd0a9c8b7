"""Evaluate strategies offline: split once, then fit, rank and measure each strategy.

Each strategy goes through the machinery that serves it. Its plugins come
from ``build_plugins``, its trainable plugins are fitted on the training
part only, and each test user is scored through a ScoringContext holding
their training history, with every training item excluded. Intent
steering and the scorer's fallback apply as in serving. Ranking is over
every available item of the tenant (no sampled negatives), in batches
through ``Scorer.score_batch``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from semrec.catalog.models import Item
from semrec.plugins import CandidateItems, InsufficientTrainingData, PluginError, ScoredItem, get_registry, top_positions
from semrec.recommend.service import CANDIDATE_MARGIN, steer_by_intent
from semrec.strategies.models import SLOTS, Strategy
from semrec.strategies.options import StrategyOptions
from semrec.strategies.plugins import StrategyPlugins, build_plugins
from semrec.tenants.models import Tenant
from semrec.training.intent_examples import EventRow, build_intent_examples
from semrec.training.jobs import load_active_fit
from semrec.vectors.search import item_vectors
from semrec.vectors.spaces import find_space

from . import metrics
from .context import EvaluationContext
from .dataset import TrainingData, load_events
from .protocol import EvaluationError, EvaluationSettings
from .splits import relevant_items, split_events

logger = logging.getLogger(__name__)

#: Score-matrix cells (users times candidate items) computed at once; bounds memory.
CHUNK_CELLS = 20_000_000
MAX_CHUNK_USERS = 1000

#: ``progress(stage, done, total)``; a total of 0 means not known yet.
StageCallback = Callable[[str, int, int], None]


def _no_progress(stage: str, done: int, total: int) -> None:
    pass


@dataclass
class StrategyEvaluation:
    """One strategy's metrics for each K, with what was evaluated and how long it took."""

    strategy: Strategy
    model_version: str
    plugin_versions: dict[str, str]
    users: int
    metrics: dict[int, dict[str, float | None]]
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Ranking:
    """The fitted plugins of one strategy and each test user's top-K list, as candidate positions."""

    plugins: StrategyPlugins
    options: StrategyOptions
    candidates: CandidateItems
    lists: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int64))
    fell_back: int = 0
    notes: list[str] = field(default_factory=list)
    fit_seconds: float = 0.0
    score_seconds: float = 0.0


class Evaluator:
    """A tenant's data, split once under ``settings``, on which any number of its strategies are evaluated.

    Raises EvaluationError when the tenant has no events, or when the split
    leaves no user with a relevant held-out item.
    """

    def __init__(self, tenant: Tenant, settings: EvaluationSettings, progress: StageCallback | None = None):
        self.tenant = tenant
        self.settings = settings
        self.progress = progress or _no_progress

        self.progress("load events", 0, 1)
        events = load_events(tenant)
        if len(events) == 0:
            raise EvaluationError(f"Tenant '{tenant.slug}' has no item events to evaluate on. Import or send events first.")
        split = split_events(events, settings.protocol, settings.train_ratio, settings.seed)
        if settings.validation:
            split = split_events(split.train, settings.protocol, settings.train_ratio, settings.seed + 1)
        self.progress("load events", 1, 1)

        self.training = TrainingData(split.train)
        self.relevant = relevant_items(split.held_out, settings.min_rating)
        self.users = self._test_users()
        self.item_ids = np.asarray(
            sorted(Item.objects.filter(tenant=tenant, available=True).values_list("pk", flat=True)), dtype=np.int64
        )
        self._categories: dict[int, list[str]] | None = None
        self._fitted: dict[tuple, bytes] = {}
        logger.info(
            "Tenant %s: evaluation split %s (seed %s%s): %d training events, %d test users",
            tenant.slug, settings.protocol, settings.seed, ", validation" if settings.validation else "",
            len(split.train), len(self.users),
        )

    def _test_users(self) -> np.ndarray:
        users = np.asarray(sorted(self.relevant), dtype=np.int64)
        if len(users) == 0:
            raise EvaluationError(
                f"The {self.settings.protocol} split of tenant '{self.tenant.slug}' leaves no user with a relevant held-out item. "
                "Users need at least two interactions, and with min_rating set, held-out ratings at or above it."
            )
        if self.settings.max_users and len(users) > self.settings.max_users:
            rng = np.random.default_rng(self.settings.seed)
            users = np.sort(rng.choice(users, self.settings.max_users, replace=False))
        return users

    def evaluate(self, strategy: Strategy) -> StrategyEvaluation:
        """Fit, rank and measure one strategy of this tenant."""
        ranking = self.rank(strategy)
        version, plugin_versions = model_version(strategy)
        details = {
            "fit_seconds": round(ranking.fit_seconds, 3),
            "score_seconds": round(ranking.score_seconds, 3),
            "users_per_second": round(len(self.users) / ranking.score_seconds, 1) if ranking.score_seconds else None,
            "fell_back_users": ranking.fell_back,
            "candidate_items": len(ranking.candidates),
            "items_with_vectors": int(ranking.candidates.has_vector.sum()),
            "training_events": len(self.training.events),
            "notes": ranking.notes,
        }
        metrics_by_k = self._measure(ranking.lists, ranking.candidates)
        return StrategyEvaluation(strategy, version, plugin_versions, len(self.users), metrics_by_k, details)

    def rank(self, strategy: Strategy) -> Ranking:
        """Fit the strategy on the training part and rank the candidates for every test user."""
        if strategy.tenant_id != self.tenant.pk:
            raise EvaluationError(f"Strategy '{strategy.name}' belongs to another tenant than '{self.tenant.slug}'.")
        try:
            plugins = build_plugins(strategy)
        except PluginError as err:
            raise EvaluationError(f"Strategy '{strategy.name}' cannot be built: {err}") from err
        options = strategy.parsed_options()
        space, vectors = self._vectors(strategy, plugins)
        candidates = CandidateItems(self.item_ids, vectors, self.training.events.item_ids, self.training.events.timestamps)
        ranking = Ranking(plugins, options, candidates)

        started = time.perf_counter()
        self._fit(plugins, options, vectors, space.pk, ranking.notes)
        ranking.fit_seconds = time.perf_counter() - started

        started = time.perf_counter()
        ranking.lists, ranking.fell_back = self._rank(strategy, plugins, options, candidates)
        ranking.score_seconds = time.perf_counter() - started
        return ranking

    def _vectors(self, strategy: Strategy, plugins: StrategyPlugins):
        # An encoder fitted on item texts keys its space by the fitted version, so load the active
        # one first. Item texts are not interactions, so that fit leaks nothing of the held-out part.
        load_active_fit(strategy, plugins.encoder)
        space = find_space(self.tenant, plugins.encoder)
        if space is not None and space.completed_at is None:
            raise EvaluationError(
                f"Strategy '{strategy.name}' has an encode run in progress for its encoder ({space.encoder_id}), so its "
                "item vectors are incomplete. Evaluate again once that run has finished (see Training runs)."
            )
        vectors = item_vectors(space, self.item_ids.tolist()) if space is not None else {}
        if not vectors:
            raise EvaluationError(
                f"Strategy '{strategy.name}' has no item vectors yet, which content scoring, user vectors and the "
                f"diversity metric need. Run manage.py semrec_encode --tenant {self.tenant.slug} --strategy {strategy.name}, "
                "then evaluate again."
            )
        return space, vectors

    # Training

    def _fit(self, plugins: StrategyPlugins, options: StrategyOptions, vectors, space_id: int, notes: list[str]) -> None:
        """Fit each trainable role on the training part, reusing states fitted earlier on the same data."""
        for role, instances in plugins.trainables.items():
            plugin = instances[0]
            key = (role, options.model_dump_json(), space_id)
            if key not in self._fitted:
                self.progress(f"train {plugin.id}", 0, 0)
                try:
                    self._fit_one(plugin, plugins, options, vectors)
                except InsufficientTrainingData as err:
                    # Serving falls back to 'passthrough' while the intent model is untrained, and so does evaluation.
                    if plugin.family != "intent_model":
                        raise
                    notes.append(f"{plugin.id} not trained: {err}")
                    continue
                self._fitted[key] = plugin.dump()
            for instance in instances:
                instance.load(self._fitted[key])

    def _fit_one(self, plugin, plugins: StrategyPlugins, options: StrategyOptions, vectors) -> None:
        def report(done: int, total: int) -> None:
            self.progress(f"train {plugin.id}", done, total)

        if plugin.family == "intent_model":
            plugin.fit(self._intent_examples(plugins, options, vectors), progress=report)
        else:
            plugin.fit(self.training.interactions(options, vectors), progress=report)

    def _intent_examples(self, plugins: StrategyPlugins, options: StrategyOptions, vectors):
        # NOTE: search events are not read, so intent models learn without queries here.
        events = self.training.events
        order = np.lexsort((events.timestamps, events.user_ids))
        rows = [
            EventRow(int(events.user_ids[row]), int(events.item_ids[row]), str(events.kinds[row]),
                     None if np.isnan(events.values[row]) else float(events.values[row]), float(events.timestamps[row]), "")
            for row in order
        ]
        return build_intent_examples(
            rows,
            item_vectors=vectors,
            item_categories=self.categories,
            encode_queries=plugins.encoder.encode_queries,
            options=options,
            dimension=len(next(iter(vectors.values()))),
        )

    @property
    def categories(self) -> dict[int, list[str]]:
        if self._categories is None:
            rows = Item.objects.filter(tenant=self.tenant).exclude(categories=[]).values_list("pk", "categories")
            self._categories = {pk: list(categories) for pk, categories in rows}
        return self._categories

    # Ranking

    def _rank(self, strategy: Strategy, plugins: StrategyPlugins, options: StrategyOptions, candidates: CandidateItems):
        """Return each test user's top-K list as candidate positions, and how many users fell back."""
        k = self.settings.max_k
        chunk = max(1, min(MAX_CHUNK_USERS, CHUNK_CELLS // max(len(candidates), 1)))
        lists = np.full((len(self.users), k), -1, dtype=np.int64)
        fell_back = 0
        self.progress("rank items", 0, len(self.users))
        for start in range(0, len(self.users), chunk):
            contexts = [self.context(strategy, int(user), options, candidates) for user in self.users[start : start + chunk]]
            self._apply_intent(plugins, contexts)
            scores, fallen = self._score(plugins, contexts, candidates, k + CANDIDATE_MARGIN)
            fell_back += fallen
            top = top_positions(scores, k + CANDIDATE_MARGIN)
            lists[start : start + len(contexts)] = self._steer(top, scores, contexts, options, candidates, k)
            self.progress("rank items", start + len(contexts), len(self.users))
        return lists, fell_back

    def context(self, strategy: Strategy, user_id: int, options: StrategyOptions, candidates: CandidateItems) -> EvaluationContext:
        """Return the scoring context of one test user: their training history, training items excluded."""
        history, seen = self.training.history(user_id, options)
        return EvaluationContext(
            candidates=candidates,
            tenant_id=self.tenant.pk,
            strategy_id=strategy.pk,
            user_id=user_id,
            history=history,
            exclude=seen,
        )

    def _apply_intent(self, plugins: StrategyPlugins, contexts: list[EvaluationContext]) -> None:
        """Set intent vectors and distributions like serving does, for users with a user vector."""
        model = plugins.intent_model
        if model is None:
            return
        if not model.is_fitted:
            model = get_registry().create("intent_model", "passthrough")
        rows = [row for row, context in enumerate(contexts) if context.user_vector is not None]
        if not rows:
            return
        prediction = model.predict(np.stack([contexts[row].user_vector for row in rows]), None)
        for index, row in enumerate(rows):
            contexts[row].intent_vector = prediction.vectors[index]
            if prediction.distributions:
                contexts[row].intent_distribution = prediction.distributions[index]

    def _score(self, plugins: StrategyPlugins, contexts, candidates: CandidateItems, depth: int) -> tuple[np.ndarray, int]:
        """Score with the strategy's scorer; rows it leaves empty are scored by its fallback, as in serving."""
        scores = plugins.scorer.score_batch(contexts, candidates, depth)
        empty = np.flatnonzero(~np.isfinite(scores).any(axis=1))
        if len(empty):
            scores[empty] = plugins.fallback.score_batch([contexts[row] for row in empty], candidates, depth)
        return scores, len(empty)

    def _steer(self, top: np.ndarray, scores: np.ndarray, contexts, options: StrategyOptions, candidates, k: int) -> np.ndarray:
        """Re-rank each row's candidates by predicted intent, like serving, and keep the best ``k``."""
        lists = top[:, :k].copy()
        if not (options.intent_boost or options.intent_min_probability):
            return lists
        # NOTE: serving steers n + CANDIDATE_MARGIN candidates for each list size n. This steers the
        # candidates of the largest K once and cuts every K from it, so smaller K can differ slightly.
        for row, context in enumerate(contexts):
            if not context.intent_distribution:
                continue
            positions = [position for position in top[row] if position >= 0]
            scored = [ScoredItem(int(candidates.item_ids[position]), float(scores[row, position])) for position in positions]
            steered = steer_by_intent(scored, self.categories, context.intent_distribution, options.intent_boost, options.intent_min_probability, k)
            lists[row] = -1
            chosen = candidates.positions([entry.item_id for entry in steered[:k]])
            lists[row, : len(chosen)] = chosen
        return lists

    # Metrics

    def _measure(self, lists: np.ndarray, candidates: CandidateItems) -> dict[int, dict[str, float | None]]:
        relevant = [self.relevant[int(user)] for user in self.users]
        relevant_positions = [set(candidates.positions(sorted(items)).tolist()) - {-1} for items in relevant]
        hits = metrics.hit_matrix(lists.tolist(), relevant_positions, self.settings.max_k) & (lists >= 0)
        counts = np.array([len(items) for items in relevant])

        users_per_item = self.training.users_per_item()
        popularity = np.array([users_per_item.get(int(item_id), 0) for item_id in candidates.item_ids], dtype=np.float64)
        results = {}
        for k in self.settings.ks:
            top = lists[:, :k]
            results[k] = {
                **metrics.accuracy(hits[:, :k], counts),
                "coverage": metrics.coverage(top, len(candidates)),
                "diversity": metrics.intra_list_diversity(top, candidates.vectors, candidates.has_vector)
                if candidates.vectors is not None
                else None,
                "novelty": metrics.novelty(top, popularity, self.training.user_count),
            }
        return results


def model_version(strategy: Strategy) -> tuple[str, dict[str, str]]:
    """Return a fingerprint of what the strategy runs, and the version of each plugin in it.

    The fingerprint covers every plugin id, configuration and version and
    the strategy's options, so it changes whenever the evaluated model does.
    """
    registry = get_registry()
    versions: dict[str, str] = {}

    def visit(family: str, plugin_id: str, config: dict) -> None:
        try:
            cls = registry.get(family, plugin_id)
        except PluginError:
            versions[plugin_id] = "not installed"
            return
        versions[plugin_id] = cls.version
        if family == "scorer":
            for ref in cls.sub_scorers(cls.validate_config(config)):
                visit("scorer", ref.id, ref.config)

    configuration = {"options": strategy.options or {}}
    for slot in SLOTS:
        plugin_id, config = strategy.plugin_id(slot), strategy.plugin_config(slot)
        configuration[slot.field] = {"id": plugin_id, "config": config}
        if plugin_id:
            visit(slot.family, plugin_id, config)
    payload = json.dumps({"configuration": configuration, "versions": versions}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:12], dict(sorted(versions.items()))
