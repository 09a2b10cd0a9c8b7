"""Contract tests for plugin authors: one class per family.

Subclass the class of your plugin's family in your own test suite and
provide a ``plugin`` fixture that returns a ready instance (trainable
plugins are fitted by the contract on :func:`tiny_interactions`, and
encoders that fit on texts on :func:`tiny_item_texts`)::

    from semrec.plugins.testing import ScorerContract

    class TestMyScorer(ScorerContract):
        @pytest.fixture
        def plugin(self):
            return MyScorer({})

The contracts run on a tiny in-memory catalogue with a known structure:
items 1-4 are about space, items 5-8 about cooking, so a user who engaged
with space items must not be harmed by any plugin's output shape.
"""

from __future__ import annotations

import numpy as np
import pytest
from django.utils.functional import Promise

from .base import Encoder, Explainer, IntentModel, Scorer
from .batch import CandidateItems, top_positions
from .context import InMemoryContext, normalise
from .registry import get_registry
from .types import HistoryEntry, IntentExamples, InteractionData, ScoredItem

SPACE_ITEMS = [1, 2, 3, 4]
COOKING_ITEMS = [5, 6, 7, 8]


def tiny_item_vectors() -> dict[int, np.ndarray]:
    """Eight unit vectors in two clear clusters (space: 1-4, cooking: 5-8)."""
    rng = np.random.default_rng(7)
    vectors = {}
    for item_id in SPACE_ITEMS + COOKING_ITEMS:
        base = np.array([1.0, 0.0, 0.0, 0.0]) if item_id in SPACE_ITEMS else np.array([0.0, 1.0, 0.0, 0.0])
        vectors[item_id] = normalise(base + 0.15 * rng.standard_normal(4))
    return vectors


def tiny_interactions() -> InteractionData:
    """Users 101-104 interact with space items, users 201-204 with cooking items."""
    rows = []
    for user in (101, 102, 103, 104):
        rows += [(user, item) for item in SPACE_ITEMS if item != user - 100]
    for user in (201, 202, 203, 204):
        rows += [(user, item) for item in COOKING_ITEMS if item != user - 196]
    users, items = zip(*rows, strict=True)
    return InteractionData(
        user_ids=np.array(users, dtype=np.int64),
        item_ids=np.array(items, dtype=np.int64),
        weights=np.ones(len(rows), dtype=np.float32),
        timestamps=np.arange(len(rows), dtype=np.float64),
    )


def tiny_intent_examples(count: int = 120) -> IntentExamples:
    """Build examples whose correct intent is known: the query, when there is one, decides the next cluster.

    Users alternate between the space and cooking clusters. Without a query
    they engage with their own cluster next; with a query (half the
    examples), with the query's cluster, which is the other one half the
    time. Labels are ``["cooking", "space"]``.
    """
    rng = np.random.default_rng(11)
    vectors = tiny_item_vectors()
    zero = np.zeros(4, dtype=np.float32)
    users, queries, items, targets = [], [], [], []
    for index in range(count):
        own, other = (SPACE_ITEMS, COOKING_ITEMS) if index % 2 == 0 else (COOKING_ITEMS, SPACE_ITEMS)
        users.append(normalise(vectors[own[index % 4]] + 0.1 * rng.standard_normal(4)))
        phase = index % 8
        target = other if phase in (2, 3) else own
        queries.append(vectors[target[(index + 1) % 4]] if phase < 4 else zero)
        items.append(vectors[target[(index + 2) % 4]])
        targets.append([0.0, 1.0] if target is SPACE_ITEMS else [1.0, 0.0])
    centroids = np.stack([
        normalise(np.mean([vectors[i] for i in COOKING_ITEMS], axis=0)),
        normalise(np.mean([vectors[i] for i in SPACE_ITEMS], axis=0)),
    ])
    return IntentExamples(
        user_vectors=np.stack(users).astype(np.float32),
        query_vectors=np.stack(queries).astype(np.float32),
        targets=np.array(targets, dtype=np.float32),
        labels=["cooking", "space"],
        centroids=centroids.astype(np.float32),
        timestamps=np.arange(count, dtype=np.float64),
        item_vectors=np.stack(items).astype(np.float32),
    )


def space_fan_context(**kwargs) -> InMemoryContext:
    """Build a context for a user who engaged with space items 1 and 2 (or with ``history``)."""
    data = tiny_interactions()
    history = kwargs.pop("history", [HistoryEntry(1, 1.0, 100.0), HistoryEntry(2, 1.0, 200.0)])
    interactions = [(int(u), int(i), float(t)) for u, i, t in zip(data.user_ids, data.item_ids, data.timestamps, strict=True)]
    return InMemoryContext(
        item_vectors=tiny_item_vectors(),
        interactions=interactions,
        user_id=999,
        history=history,
        exclude=kwargs.pop("exclude", {1, 2}),
        **kwargs,
    )


def tiny_candidates() -> CandidateItems:
    """Return all eight tiny items as one batch's candidates, with the interaction counts :func:`space_fan_context` uses."""
    data = tiny_interactions()
    return CandidateItems(SPACE_ITEMS + COOKING_ITEMS, tiny_item_vectors(), data.item_ids, data.timestamps)


def tiny_item_texts() -> tuple[list[str], list[str]]:
    """Return ten item texts and their language tags: space first (0-4), cooking after (5-9)."""
    texts = [
        "A rocket launches astronauts into orbit.",
        "Astronauts repair the space station in orbit.",
        "The rocket carries a space probe beyond orbit.",
        "火箭发射升空，宇航员进入轨道。",
        "宇航员在轨道上的空间站工作。",
        "Slow-cooked tomato soup with fresh basil.",
        "Bake fresh bread to serve with tomato soup.",
        "Tomato pasta with basil and fresh garlic.",
        "番茄炒蛋是一道家常菜。",
        "番茄鸡蛋汤是一道家常菜。",
    ]
    languages = ["en"] * 3 + ["zh-Hans"] * 2 + ["en"] * 3 + ["zh-Hans"] * 2
    return texts, languages


class PluginContract:
    """Checks every plugin family shares: metadata and configuration schema."""

    def test_has_metadata(self, plugin):
        for attribute in ("id", "version"):
            value = getattr(plugin, attribute)
            assert isinstance(value, str) and value, f"{type(plugin).__name__}.{attribute} must be a non-empty string"
        # The admin texts may be lazy translations (gettext_lazy), which str() resolves when a page renders.
        for attribute in ("label", "description"):
            value = getattr(plugin, attribute)
            assert isinstance(value, (str, Promise)) and str(value), (
                f"{type(plugin).__name__}.{attribute} must be a non-empty string or gettext_lazy() string"
            )

    def test_defaults_validate(self, plugin):
        defaults = type(plugin).validate_config({})
        assert type(plugin).validate_config(defaults.model_dump()) == defaults

    def test_unknown_config_key_rejected(self, plugin):
        from .errors import PluginConfigError

        with pytest.raises(PluginConfigError) as raised:
            type(plugin).validate_config({"no_such_option_xyz": 1})
        assert plugin.id in str(raised.value)

    def test_schema_is_json_schema(self, plugin):
        schema = type(plugin).config_schema()
        assert schema.get("type") == "object"


class EncoderContract(PluginContract):
    texts = ["A rocket launches to orbit.", "Slow-cooked tomato soup.", "星际穿越是一部科幻电影。"]

    def test_shape_and_dtype(self, plugin: Encoder):
        vectors = plugin.encode(self.texts)
        assert vectors.shape == (len(self.texts), plugin.dimension)
        assert vectors.dtype == np.float32

    def test_vectors_are_unit_length(self, plugin: Encoder):
        norms = np.linalg.norm(plugin.encode(self.texts), axis=1)
        np.testing.assert_allclose(norms, 1.0, atol=1e-3)

    def test_batch_equals_single(self, plugin: Encoder):
        batch = plugin.encode(self.texts)
        singles = np.stack([plugin.encode([text])[0] for text in self.texts])
        np.testing.assert_allclose(batch, singles, atol=1e-4)

    def test_empty_batch(self, plugin: Encoder):
        assert plugin.encode([]).shape == (0, plugin.dimension)

    def test_reports_progress(self, plugin: Encoder):
        calls = []
        plugin.encode(self.texts, progress=lambda done, total: calls.append((done, total)))
        assert calls and calls[-1] == (len(self.texts), len(self.texts))

    def test_model_name_recorded(self, plugin: Encoder):
        assert isinstance(plugin.model_name, str) and plugin.model_name

    def test_accepts_languages(self, plugin: Encoder):
        vectors = plugin.encode(self.texts, languages=["en", "en", "zh-Hans"])
        assert vectors.shape == (len(self.texts), plugin.dimension)

    def test_text_fitting_is_trainable(self, plugin: Encoder):
        if plugin.fits_on_texts:
            assert plugin.trainable, f"{type(plugin).__name__} fits on texts, so it must set trainable = True and implement dump() and load()"

    def test_fit_texts_separates_themes(self, plugin: Encoder):
        fitted = self._fitted_copy(plugin)
        texts, languages = tiny_item_texts()
        similarity = fitted.encode(texts, languages=languages) @ fitted.encode(texts, languages=languages).T
        np.fill_diagonal(similarity, -np.inf)
        nearest = similarity.argmax(axis=1)
        for index, neighbour in enumerate(nearest):
            assert (index < 5) == (neighbour < 5), f"text {index} is nearest to text {neighbour}, of the other theme"

    def test_fitted_state_round_trips(self, plugin: Encoder):
        fitted = self._fitted_copy(plugin)
        restored = type(plugin)(plugin.config)
        restored.load(fitted.dump())
        assert restored.is_fitted
        # Saved states may store float16 weights, so vectors agree to about 1e-3.
        np.testing.assert_allclose(restored.encode(self.texts), fitted.encode(self.texts), atol=5e-3)

    def _fitted_copy(self, plugin: Encoder) -> Encoder:
        """Fit a new instance with the plugin's configuration on :func:`tiny_item_texts`."""
        if not plugin.fits_on_texts:
            pytest.skip("does not fit on texts")
        fitted = type(plugin)(plugin.config)
        texts, languages = tiny_item_texts()
        calls = []
        metrics = fitted.fit_texts(texts, languages=languages, progress=lambda done, total: calls.append((done, total)))
        assert all(isinstance(value, (int, float)) for value in metrics.values()), metrics
        assert calls and calls[-1] == (len(texts), len(texts))
        assert fitted.is_fitted
        return fitted


def _fit_if_trainable(plugin) -> None:
    if plugin.trainable and not plugin.is_fitted:
        plugin.fit(tiny_intent_examples() if plugin.family == "intent_model" else tiny_interactions())


class ScorerContract(PluginContract):
    def _bound(self, plugin: Scorer) -> Scorer:
        registry = get_registry()
        children = []
        for ref in plugin.sub_scorers(plugin.config):
            child = registry.create("scorer", ref.id, ref.config)
            _fit_if_trainable(child)
            children.append(child)
        plugin.bind_sub_scorers(children)
        _fit_if_trainable(plugin)
        return plugin

    def test_returns_at_most_k_sorted(self, plugin: Scorer):
        scored = self._bound(plugin).score(space_fan_context(), 3)
        assert len(scored) <= 3
        assert all(isinstance(item, ScoredItem) for item in scored)
        scores = [item.score for item in scored]
        assert scores == sorted(scores, reverse=True)

    def test_never_returns_excluded(self, plugin: Scorer):
        context = space_fan_context(exclude={1, 2, 3})
        ids = {item.item_id for item in self._bound(plugin).score(context, 8)}
        assert not ids & {1, 2, 3}

    def test_returns_known_items_once(self, plugin: Scorer):
        ids = [item.item_id for item in self._bound(plugin).score(space_fan_context(), 8)]
        assert len(ids) == len(set(ids))
        assert set(ids) <= set(SPACE_ITEMS + COOKING_ITEMS)

    def test_trainable_state_round_trips(self, plugin: Scorer):
        if not plugin.trainable:
            pytest.skip("not trainable")
        bound = self._bound(plugin)
        restored = type(plugin)(plugin.config)
        restored.load(bound.dump())
        context = space_fan_context()
        assert [i.item_id for i in restored.score(context, 4)] == [i.item_id for i in bound.score(context, 4)]

    def test_batch_matches_score(self, plugin: Scorer):
        bound = self._bound(plugin)
        contexts = [space_fan_context(), space_fan_context(exclude={1, 2, 3}), space_fan_context(history=[])]
        candidates = tiny_candidates()
        matrix = bound.score_batch(contexts, candidates, 5)
        assert matrix.shape == (len(contexts), len(candidates))
        for row, context in enumerate(contexts):
            expected = [(item.item_id, item.score) for item in bound.score(context, 5)]
            top = [column for column in top_positions(matrix[row : row + 1], 5)[0] if column >= 0]
            batch = [(int(candidates.item_ids[column]), float(matrix[row, column])) for column in top]
            assert [item_id for item_id, _ in batch] == [item_id for item_id, _ in expected], f"context {row}"
            np.testing.assert_allclose([s for _, s in batch], [s for _, s in expected], rtol=1e-4, atol=1e-6)


class IntentModelContract(PluginContract):
    def test_vectors_shape(self, plugin: IntentModel):
        _fit_if_trainable(plugin)
        users = np.stack([tiny_item_vectors()[1], np.zeros(4, dtype=np.float32)])
        prediction = plugin.predict(users, None)
        assert prediction.vectors.shape == users.shape

    def test_vectors_are_unit_length(self, plugin: IntentModel):
        _fit_if_trainable(plugin)
        users = np.stack([tiny_item_vectors()[1], tiny_item_vectors()[6]])
        norms = np.linalg.norm(plugin.predict(users, users[::-1]).vectors, axis=1)
        np.testing.assert_allclose(norms, 1.0, atol=1e-3)

    def test_distributions_sum_to_one(self, plugin: IntentModel):
        _fit_if_trainable(plugin)
        users = np.stack([tiny_item_vectors()[1]])
        prediction = plugin.predict(users, users)
        for distribution in prediction.distributions or []:
            assert abs(sum(distribution.values()) - 1.0) < 1e-4

    def test_trainable_state_round_trips(self, plugin: IntentModel):
        if not plugin.trainable:
            pytest.skip("not trainable")
        _fit_if_trainable(plugin)
        restored = type(plugin)(plugin.config)
        restored.load(plugin.dump())
        users = np.stack([tiny_item_vectors()[2]])
        np.testing.assert_allclose(restored.predict(users, None).vectors, plugin.predict(users, None).vectors, atol=1e-6)


class ExplainerContract(PluginContract):
    def test_one_explanation_per_item(self, plugin: Explainer):
        items = [ScoredItem(3, 0.9), ScoredItem(5, 0.5)]
        explanations = plugin.explain(items, space_fan_context())
        assert [explanation.item_id for explanation in explanations] == [3, 5]
        assert all(explanation.reason for explanation in explanations)

    def test_evidence_comes_from_history(self, plugin: Explainer):
        context = space_fan_context()
        history_ids = {entry.item_id for entry in context.history}
        for explanation in plugin.explain([ScoredItem(3, 0.9)], context):
            assert {evidence.item_id for evidence in explanation.evidence} <= history_ids
