"""Contract tests for plugin authors: one class per family.

Subclass the class of your plugin's family in your own test suite and
provide a ``plugin`` fixture that returns a ready instance (trainable
plugins are fitted by the contract on :func:`tiny_interactions`)::

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

from .base import Encoder, Explainer, IntentModel, Scorer
from .context import InMemoryContext, normalise
from .registry import get_registry
from .types import HistoryEntry, InteractionData, ScoredItem

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


def space_fan_context(**kwargs) -> InMemoryContext:
    """Build a context for a user who engaged with space items 1 and 2."""
    data = tiny_interactions()
    history = [HistoryEntry(1, 1.0, 100.0), HistoryEntry(2, 1.0, 200.0)]
    interactions = [(int(u), int(i), float(t)) for u, i, t in zip(data.user_ids, data.item_ids, data.timestamps, strict=True)]
    return InMemoryContext(
        item_vectors=tiny_item_vectors(),
        interactions=interactions,
        user_id=999,
        history=history,
        exclude=kwargs.pop("exclude", {1, 2}),
        **kwargs,
    )


class PluginContract:
    """Checks every plugin family shares: metadata and configuration schema."""

    def test_has_metadata(self, plugin):
        for attribute in ("id", "label", "description", "version"):
            value = getattr(plugin, attribute)
            assert isinstance(value, str) and value, f"{type(plugin).__name__}.{attribute} must be a non-empty string"

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


def _fit_if_trainable(plugin) -> None:
    if plugin.trainable and not plugin.is_fitted:
        plugin.fit(tiny_interactions())


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


class IntentModelContract(PluginContract):
    def test_vectors_shape(self, plugin: IntentModel):
        _fit_if_trainable(plugin)
        users = np.stack([tiny_item_vectors()[1], np.zeros(4, dtype=np.float32)])
        prediction = plugin.predict(users, None)
        assert prediction.vectors.shape == users.shape

    def test_distributions_sum_to_one(self, plugin: IntentModel):
        _fit_if_trainable(plugin)
        users = np.stack([tiny_item_vectors()[1]])
        prediction = plugin.predict(users, users)
        for distribution in prediction.distributions or []:
            assert abs(sum(distribution.values()) - 1.0) < 1e-4


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
