"""The evaluation runner on the handmade catalogue: real plugins, real database, real encoder."""

import pytest

from semrec.catalog import ingest, validation
from semrec.evaluation.dataset import load_events
from semrec.evaluation.models import EvaluationResult
from semrec.evaluation.protocol import EvaluationError, parse_settings
from semrec.evaluation.runner import Evaluator, model_version
from semrec.evaluation.runs import create_runs, evaluate_now
from semrec.evaluation.splits import split_events
from semrec.evaluation.tasks import evaluate_strategies_task
from semrec.plugins import PluginRegistry, Scorer, build_plugin_manager, hookimpl, set_registry
from semrec.strategies.models import Strategy
from semrec.tenants.models import Tenant
from semrec.training.models import TrainingRun
from semrec.training.runs import run_now

from .conftest import make_strategy

LEAVE_LAST_OUT = parse_settings({"protocol": "leave_last_out", "ks": [3, 5]})


def _pairs(events):
    return set(zip(events.user_ids.tolist(), events.item_ids.tolist(), strict=True))


def _ids(ranking, row):
    return [int(ranking.candidates.item_ids[position]) for position in ranking.lists[row] if position >= 0]


def test_every_user_with_held_out_item_evaluated(ease_strategy):
    evaluator = Evaluator(ease_strategy.tenant, LEAVE_LAST_OUT)
    # 11 users have two or more items; each holds out the newest.
    assert len(evaluator.users) == 11
    assert all(len(items) == 1 for items in evaluator.relevant.values())


def test_ranking_excludes_training_items(ease_strategy):
    evaluator = Evaluator(ease_strategy.tenant, LEAVE_LAST_OUT)
    ranking = evaluator.rank(ease_strategy)
    for row, user in enumerate(evaluator.users):
        _history, seen = evaluator.training.history(int(user), ranking.options)
        assert seen, f"user {user} has no training items"
        assert not set(_ids(ranking, row)) & seen


@pytest.mark.parametrize(
    ("scorer_id", "config"),
    [
        ("ease", {"regularization": 1.0}),
        ("item_knn", {}),
        ("collaborative", {"factors": 4, "iterations": 5}),
        ("popularity", {}),
        ("content", {}),
        ("hybrid", {"method": "weighted"}),
        ("hybrid", {"method": "rrf"}),
    ],
)
def test_batch_ranking_matches_per_user_scoring(encoded, scorer_id, config):
    strategy = make_strategy(encoded, "under-test", scorer_id, config)
    evaluator = Evaluator(encoded, LEAVE_LAST_OUT)
    ranking = evaluator.rank(strategy)
    for row, user in enumerate(evaluator.users):
        context = evaluator.context(strategy, int(user), ranking.options, ranking.candidates)
        scored = ranking.plugins.scorer.score(context, 5) or ranking.plugins.fallback.score(context, 5)
        assert _ids(ranking, row) == [item.item_id for item in scored], f"user {user}"


def test_cold_user_served_by_fallback(encoded):
    # 'solo' has one event, on an item no other user touched, and a 40 % split by item holds it out.
    raw = [{"user_id": "solo", "item_id": "jazz-2", "kind": "purchase", "timestamp": "2024-02-01T00:00:00+00:00"}]
    events, errors = validation.validate_events(raw, 10, None)
    assert not errors, errors.errors
    ingest.insert_events(encoded, events, ingest.resolve_event_references(encoded, events, validation.BatchErrors()))
    strategy = make_strategy(encoded, "ease", "ease", {"regularization": 1.0})

    evaluator = Evaluator(encoded, parse_settings({"protocol": "random_by_item", "train_ratio": 0.4, "ks": [3]}))
    ranking = evaluator.rank(strategy)
    solo = encoded.users.get(external_id="solo").pk
    assert solo in evaluator.users.tolist()
    assert ranking.fell_back >= 1
    row = evaluator.users.tolist().index(solo)
    assert len(_ids(ranking, row)) == 3


class RecordingScorer(Scorer):
    """A trainable scorer that remembers the interactions it was fitted on."""

    id = "recording"
    label = "Recording"
    description = "Records its training data; for evaluation tests."
    trainable = True
    fitted_on: list = []

    def fit(self, data, progress=None):
        RecordingScorer.fitted_on.append(data)
        self._fitted = True
        return {}

    def dump(self):
        return b""

    def load(self, blob):
        self._fitted = True

    def score(self, context, k):
        return []


class RecordingPlugin:
    @hookimpl
    def register_scorers(self):
        return [RecordingScorer]


@pytest.fixture
def recording_registry():
    manager = build_plugin_manager()
    manager.register(RecordingPlugin())
    set_registry(PluginRegistry(manager))
    RecordingScorer.fitted_on = []
    yield
    set_registry(None)


def test_fit_sees_training_part_only(encoded, recording_registry):
    strategy = make_strategy(encoded, "recording", "recording")
    evaluator = Evaluator(encoded, LEAVE_LAST_OUT)
    evaluator.rank(strategy)

    [data] = RecordingScorer.fitted_on
    split = split_events(load_events(encoded), "leave_last_out", 0.75, LEAVE_LAST_OUT.seed)
    fitted = set(zip(data.user_ids.tolist(), data.item_ids.tolist(), strict=True))
    assert fitted == _pairs(split.train)
    assert not fitted & _pairs(split.held_out)
    assert data.item_vectors and len(data.item_vectors) == 16


def test_fit_reused_for_same_role_and_options(encoded, recording_registry):
    first = make_strategy(encoded, "first", "recording")
    second = make_strategy(encoded, "second", "recording")
    evaluator = Evaluator(encoded, LEAVE_LAST_OUT)
    evaluator.rank(first)
    evaluator.rank(second)
    assert len(RecordingScorer.fitted_on) == 1


def test_validation_split_inside_training_part(ease_strategy):
    settings = parse_settings({"protocol": "random_by_user", "train_ratio": 0.5, "validation": True})
    evaluator = Evaluator(ease_strategy.tenant, settings)
    main = split_events(load_events(ease_strategy.tenant), "random_by_user", 0.5, settings.seed)

    validation_pairs = {(user, item) for user, items in evaluator.relevant.items() for item in items}
    assert validation_pairs
    assert validation_pairs <= _pairs(main.train)
    assert not _pairs(evaluator.training.events) & _pairs(main.held_out)


def test_tenant_without_events_rejected(db):
    tenant = Tenant.objects.create(slug="empty", name="Empty")
    with pytest.raises(EvaluationError) as raised:
        Evaluator(tenant, LEAVE_LAST_OUT)
    assert "no item events" in str(raised.value)


def test_unencoded_strategy_rejected(catalogue):
    strategy = make_strategy(catalogue, "ease", "ease")
    evaluator = Evaluator(catalogue, LEAVE_LAST_OUT)
    with pytest.raises(EvaluationError) as raised:
        evaluator.rank(strategy)
    assert "semrec_encode --tenant acme --strategy ease" in str(raised.value)


def test_strategy_mid_encode_rejected(ease_strategy):
    from semrec.vectors.models import EmbeddingSpace

    EmbeddingSpace.objects.filter(tenant=ease_strategy.tenant).update(completed_at=None)
    evaluator = Evaluator(ease_strategy.tenant, LEAVE_LAST_OUT)

    with pytest.raises(EvaluationError) as raised:
        evaluator.rank(ease_strategy)

    assert "encode run in progress" in str(raised.value)


def test_other_tenant_strategy_rejected(ease_strategy, other_tenant):
    foreign = Strategy.objects.create(tenant=other_tenant, name="foreign")
    with pytest.raises(EvaluationError) as raised:
        Evaluator(ease_strategy.tenant, LEAVE_LAST_OUT).rank(foreign)
    assert "another tenant" in str(raised.value)


def test_results_stored_per_k(ease_strategy):
    [run] = evaluate_now([ease_strategy], LEAVE_LAST_OUT)
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    assert run.kind == TrainingRun.Kind.EVALUATE

    results = {result.k: result for result in EvaluationResult.objects.filter(run=run)}
    assert set(results) == {3, 5}
    for result in results.values():
        assert result.strategy == ease_strategy
        assert result.users == 11
        assert result.protocol == "leave_last_out"
        assert result.train_ratio is None
        for metric in ("precision", "recall", "ndcg", "map", "mrr", "hit_rate", "coverage", "diversity"):
            assert 0.0 <= getattr(result, metric) <= 1.0, metric
        assert result.novelty > 0
    assert results[5].recall >= results[3].recall
    assert results[5].hit_rate >= results[3].hit_rate


def test_model_version_follows_configuration(ease_strategy):
    before, versions = model_version(ease_strategy)
    assert versions["ease"] == "0.1.0"
    ease_strategy.scorer_config = {"regularization": 2.0}
    ease_strategy.save()
    after, _versions = model_version(ease_strategy)
    assert len(before) == 12
    assert before != after


def test_one_failing_strategy_does_not_stop_others(ease_strategy):
    unencoded_space = make_strategy(
        ease_strategy.tenant, "other-encoder", "ease", encoder_config={"max_length": 32}
    )
    runs = evaluate_now([unencoded_space, ease_strategy], LEAVE_LAST_OUT)
    statuses = {run.strategy.name: run.status for run in runs}
    assert statuses == {"other-encoder": "failed", "ease": "succeeded"}
    assert "semrec_encode" in runs[0].error
    assert not EvaluationResult.objects.filter(strategy=unencoded_space).exists()


def test_metrics_reflect_quality(encoded):
    """Crowd and astro users share items, so EASE finds the held-out half of their histories."""
    strategy = make_strategy(encoded, "ease", "ease", {"regularization": 1.0})
    runs = evaluate_now([strategy], parse_settings({"protocol": "random_by_user", "train_ratio": 0.5, "ks": [5]}))
    [result] = EvaluationResult.objects.filter(run=runs[0])
    assert result.hit_rate > 0.5
    assert result.ndcg > 0.3


def test_task_with_invalid_settings_fails_runs(ease_strategy):
    [run] = create_runs([ease_strategy])
    result = evaluate_strategies_task.apply(args=[[run.pk], {"train_ratio": 2}], throw=True).get()
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.FAILED
    assert "train_ratio" in run.error
    assert result == {"runs": {run.pk: "failed"}}


def test_encoder_fitted_on_texts(catalogue):
    """A lexical encoder's vectors live in the space of its fitted version, which evaluation loads."""
    strategy = make_strategy(catalogue, "lexical", "content", encoder_id="lexical", encoder_config={"dimension": 8, "min_df": 1})
    run_now(strategy, TrainingRun.Kind.ENCODE)
    [run] = evaluate_now([strategy], LEAVE_LAST_OUT)
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    assert run.result["items_with_vectors"] == 16
