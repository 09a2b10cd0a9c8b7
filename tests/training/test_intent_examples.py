"""Intent training examples built from events, and intent training through a strategy."""

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from semrec.plugins import normalise
from semrec.strategies.models import Strategy
from semrec.strategies.options import StrategyOptions
from semrec.training.intent_examples import EventRow, build_intent_examples
from semrec.training.models import ModelVersion, TrainingRun
from semrec.training.runs import RunFailed, run_now

DAY = 86400.0
VECTORS = {
    1: np.array([1.0, 0.0, 0.0], dtype=np.float32),
    2: np.array([0.0, 1.0, 0.0], dtype=np.float32),
    3: np.array([0.0, 0.0, 1.0], dtype=np.float32),
}
CATEGORIES = {1: ["space"], 2: ["cooking"], 3: ["space", "music"]}
QUERY_VECTORS = {"rockets": np.array([0.6, 0.0, 0.8], dtype=np.float32)}


def _encode(texts):
    return np.stack([QUERY_VECTORS[text] for text in texts])


def _build(rows, options=None):
    return build_intent_examples(
        rows,
        item_vectors=VECTORS,
        item_categories=CATEGORIES,
        encode_queries=_encode,
        options=options or StrategyOptions(half_life_days=None),
        dimension=3,
    )


def test_first_event_without_query_is_skipped():
    examples = _build([EventRow(7, 1, "purchase", None, 0.0, ""), EventRow(7, 2, "purchase", None, DAY, "")])

    assert len(examples) == 1
    np.testing.assert_allclose(examples.user_vectors[0], VECTORS[1])
    np.testing.assert_allclose(examples.targets[0], [1.0, 0.0, 0.0])


def test_user_vector_is_the_history_before_the_event():
    rows = [EventRow(7, 1, "purchase", None, 0.0, ""), EventRow(7, 2, "purchase", None, DAY, ""), EventRow(7, 3, "purchase", None, 2 * DAY, "")]

    examples = _build(rows)

    np.testing.assert_allclose(examples.user_vectors[1], normalise(VECTORS[1] + VECTORS[2]), atol=1e-6)
    assert examples.labels == ["cooking", "music", "space"]
    np.testing.assert_allclose(examples.targets[1], [0.0, 0.5, 0.5])


def test_history_decays_with_half_life():
    rows = [EventRow(7, 1, "purchase", None, 0.0, ""), EventRow(7, 2, "purchase", None, 10 * DAY, ""), EventRow(7, 3, "purchase", None, 20 * DAY, "")]

    examples = _build(rows, StrategyOptions(half_life_days=10))

    np.testing.assert_allclose(examples.user_vectors[1], normalise(0.5 * VECTORS[1] + VECTORS[2]), atol=1e-6)


def test_search_gives_query_and_joins_the_user_vector():
    rows = [
        EventRow(7, 2, "purchase", None, 0.0, ""),
        EventRow(7, None, "search", None, 100.0, "rockets"),
        EventRow(7, 1, "click", None, 200.0, ""),
    ]

    examples = _build(rows)

    assert len(examples) == 1
    np.testing.assert_allclose(examples.query_vectors[0], QUERY_VECTORS["rockets"])
    np.testing.assert_allclose(examples.user_vectors[0], normalise(3.0 * VECTORS[2] + QUERY_VECTORS["rockets"]), atol=1e-6)


def test_search_expires_after_the_session():
    rows = [EventRow(7, None, "search", None, 0.0, "rockets"), EventRow(7, 1, "click", None, 2 * 3600.0, "")]

    examples = _build(rows)

    np.testing.assert_allclose(examples.query_vectors[0], np.zeros(3))


def test_users_do_not_share_history():
    rows = [EventRow(7, 1, "purchase", None, 0.0, ""), EventRow(8, 2, "purchase", None, DAY, "")]

    assert len(_build(rows)) == 0


def test_low_ratings_are_not_targets():
    rows = [EventRow(7, 1, "purchase", None, 0.0, ""), EventRow(7, 2, "rating", 1.0, DAY, "")]

    assert len(_build(rows)) == 0


def test_centroids_are_normalised_category_means():
    examples = _build([])

    space = examples.centroids[examples.labels.index("space")]
    np.testing.assert_allclose(space, normalise(VECTORS[1] + VECTORS[3]), atol=1e-6)


@pytest.mark.django_db
def test_strategy_trains_softmax_on_the_catalogue(strategy):
    version = ModelVersion.objects.get(strategy=strategy, plugin_id="softmax", is_active=True)

    assert version.metrics["examples"] == 32
    assert version.metrics["intents"] == 5


@pytest.mark.django_db
def test_too_few_examples_skips_intent_and_says_why(catalogue, capsys):
    strategy = Strategy.objects.create(tenant=catalogue, name="few", scorer_id="collaborative")
    run_now(strategy, TrainingRun.Kind.ENCODE)

    call_command("semrec_train", tenant=catalogue.slug, strategy="few", verbosity=0)

    run = TrainingRun.objects.filter(strategy=strategy, kind=TrainingRun.Kind.TRAIN).latest("pk")
    assert run.status == TrainingRun.Status.SUCCEEDED
    [skipped] = run.result["skipped"]
    assert "found 32 training examples and needs at least 50" in skipped["reason"]
    assert "found 32 training examples" in capsys.readouterr().err


@pytest.mark.django_db
def test_train_fails_when_nothing_trains(catalogue):
    strategy = Strategy.objects.create(tenant=catalogue, name="intent-only", scorer_id="content")
    run_now(strategy, TrainingRun.Kind.ENCODE)

    with pytest.raises(RunFailed, match="needs at least 50"):
        run_now(strategy, TrainingRun.Kind.TRAIN)
    with pytest.raises(CommandError, match="found 32 training examples"):
        call_command("semrec_train", tenant=catalogue.slug, strategy="intent-only", verbosity=0)


@pytest.mark.django_db
def test_intent_training_before_encoding_says_to_encode(catalogue):
    strategy = Strategy.objects.create(tenant=catalogue, name="unencoded", scorer_id="content")

    with pytest.raises(RunFailed, match="Encode items first"):
        run_now(strategy, TrainingRun.Kind.TRAIN)
