"""Model versions: activation, the activation gate, rollback, pruning and serving the active version."""

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from django.core.exceptions import ValidationError

from semrec.catalog import ingest, validation
from semrec.catalog.models import User
from semrec.recommend.runtime import get_runtime
from semrec.recommend.service import recommend_for_user
from semrec.strategies.models import Strategy
from semrec.training.models import ModelVersion, TrainingRun
from semrec.training.runs import run_now
from semrec.training.versions import VersionError, activate, activate_trained, prune, rollback

CLUSTERS = ["rocket", "pasta", "jazz", "garden"]
ITEMS_PER_CLUSTER = 8
LEXICAL = {"dimension": 16, "max_features": 256, "min_df": 1}
EASE = {"regularization": 10.0}
ONLY_DISLIKES = {"view": 0, "click": 0, "add_to_cart": 0, "purchase": 0, "like": 0, "rating": 0, "dislike": 1.0, "search": 0}


def load_clustered(tenant, users: int = 48, seed: int = 7) -> None:
    """Load items in four themes, and users who buy five items of one theme and dislike one item of each other theme."""
    item_rows = [
        {"id": f"{word}-{i}", "title": f"{word.title()} {i}", "description": f"All about the {word}, part {i}.", "categories": [word]}
        for word in CLUSTERS
        for i in range(ITEMS_PER_CLUSTER)
    ]
    clean, errors = validation.validate_items(item_rows, 10_000)
    assert not errors, errors.errors
    ingest.upsert_items(tenant, clean)

    rng = np.random.default_rng(seed)
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    event_rows = []
    for user in range(users):
        own = CLUSTERS[user % len(CLUSTERS)]
        picks = [(f"{own}-{i}", "purchase") for i in rng.choice(ITEMS_PER_CLUSTER, 5, replace=False)]
        picks += [(f"{other}-{rng.integers(ITEMS_PER_CLUSTER)}", "dislike") for other in CLUSTERS if other != own]
        for offset, (item, kind) in enumerate(picks):
            event_rows.append({
                "user_id": f"user-{user}", "item_id": item, "kind": kind,
                "timestamp": (start + timedelta(hours=offset)).isoformat(), "idempotency_key": f"{user}:{item}:{kind}",
            })
    clean, errors = validation.validate_events(event_rows, 10_000, datetime.now(timezone.utc))
    item_pks = ingest.resolve_event_references(tenant, clean, errors)
    assert not errors, errors.errors
    ingest.insert_events(tenant, clean, item_pks)


def ease_strategy(tenant, name: str, **options) -> Strategy:
    is_default = not Strategy.objects.filter(tenant=tenant).exists()
    return Strategy.objects.create(
        tenant=tenant, name=name, is_default=is_default, encoder_id="lexical", encoder_config=LEXICAL,
        scorer_id="ease", scorer_config=EASE, intent_model_id="", options=options,
    )


def ease_versions(strategy):
    return ModelVersion.objects.filter(strategy=strategy, plugin_id="ease").order_by("pk")


@pytest.fixture
def clustered(tenant):
    load_clustered(tenant)
    strategy = ease_strategy(tenant, "ease")
    run_now(strategy, TrainingRun.Kind.ENCODE)
    run_now(strategy, TrainingRun.Kind.TRAIN)
    return strategy


def train(strategy) -> TrainingRun:
    strategy.refresh_from_db()
    return run_now(strategy, TrainingRun.Kind.TRAIN)


def set_options(strategy, **options) -> None:
    strategy.options = {**strategy.options, **options}
    strategy.save()


def copy_of(version: ModelVersion, strategy: Strategy) -> ModelVersion:
    """Store another strategy's trained state as a new, inactive version of ``strategy``, as a bad retrain would."""
    return ModelVersion.objects.create(
        tenant=strategy.tenant, strategy=strategy, role=version.role, plugin_id=version.plugin_id,
        plugin_version=version.plugin_version, artifact=bytes(version.artifact), metrics={},
    )


# Options


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"keep_versions": 0}, "keep_versions"),
        ({"keep_versions": "many"}, "keep_versions"),
        ({"activation_margin": -0.1}, "activation_margin"),
        ({"activation_metric": "accuracy"}, "activation_metric"),
        ({"activation_k": 0}, "activation_k"),
        ({"activation_max_users": 0}, "activation_max_users"),
    ],
)
def test_version_options_reject_bad_values(tenant, options, field):
    strategy = ease_strategy(tenant, "ease")
    strategy.options = options
    with pytest.raises(ValidationError) as raised:
        strategy.save()
    assert field in str(raised.value)
    strategy.refresh_from_db()
    assert strategy.options == {}


def test_version_options_defaults(tenant):
    options = ease_strategy(tenant, "ease").parsed_options()
    assert options.keep_versions == 5
    assert options.activation_margin is None
    assert options.activation_metric == "ndcg"


# Activation, rollback and pruning


def test_train_activates_and_records_time(clustered):
    version = ease_versions(clustered).get()
    run = clustered.training_runs.filter(kind=TrainingRun.Kind.TRAIN).get()
    assert version.is_active
    assert version.activated_at is not None
    assert run.result["activated"] is True
    assert "gate is off" in run.result["activation"]["reason"]


def test_rollback_walks_back_versions(clustered):
    train(clustered)
    train(clustered)
    first, second, third = ease_versions(clustered)
    assert third.is_active

    assert rollback(clustered, third.role).pk == second.pk
    assert rollback(clustered, third.role).pk == first.pk
    assert list(ease_versions(clustered).filter(is_active=True)) == [first]
    with pytest.raises(VersionError, match="nothing to roll back to"):
        rollback(clustered, third.role)
    assert list(ease_versions(clustered).filter(is_active=True)) == [first]


def test_rollback_skips_never_active(clustered, tenant):
    first = ease_versions(clustered).get()
    rejected = copy_of(first, clustered)
    train(clustered)
    newest = ease_versions(clustered).last()
    assert newest.is_active

    assert rollback(clustered, first.role).pk == first.pk
    rejected.refresh_from_db()
    assert not rejected.is_active


def test_rollback_without_active_version(clustered):
    ModelVersion.objects.filter(strategy=clustered).update(is_active=False)
    with pytest.raises(VersionError, match="no active model version"):
        rollback(clustered, ease_versions(clustered).first().role)


def test_prune_keeps_newest_inactive(clustered):
    for _ in range(4):
        train(clustered)
    versions = list(ease_versions(clustered))
    active = versions[-1]
    activate(versions[0])

    deleted = prune(clustered, active.role, keep=2)

    remaining = list(ease_versions(clustered))
    assert sorted(deleted) == [versions[1].pk, versions[2].pk]
    assert remaining == [versions[0], versions[3], versions[4]]
    assert versions[0] in [version for version in remaining if version.is_active]


def test_prune_rejects_zero(clustered):
    with pytest.raises(VersionError, match="at least 1"):
        prune(clustered, ease_versions(clustered).first().role, keep=0)
    assert ease_versions(clustered).count() == 1


def test_train_prunes_to_keep_versions(clustered):
    set_options(clustered, keep_versions=1)
    for _ in range(3):
        train(clustered)
    versions = list(ease_versions(clustered))
    assert len(versions) == 2
    assert versions[-1].is_active
    assert not versions[0].is_active


def test_encoder_refit_prunes_old_fits(clustered):
    set_options(clustered, keep_versions=1)
    for _ in range(3):
        run_now(clustered, TrainingRun.Kind.ENCODE, force=True)
    fits = ModelVersion.objects.filter(strategy=clustered, plugin_id="lexical").order_by("pk")
    assert fits.count() == 2
    assert fits.last().is_active
    # Deleting a fit deletes its space, and the serving space is the active fit's.
    clustered.refresh_from_db()
    assert clustered.serving_space.model_version_id == fits.last().pk
    assert {space.model_version_id for space in clustered.tenant.spaces.all()} == {fit.pk for fit in fits}


# Serving follows the active version


def test_reactivated_version_serves_again(clustered, settings):
    settings.SEMREC_RUNTIME_REFRESH_SECONDS = 0
    user = User.objects.get(tenant=clustered.tenant, external_id="user-0")
    garbage = ease_strategy(clustered.tenant, "garbage", event_weights=ONLY_DISLIKES)
    train(garbage)
    good = ease_versions(clustered).get()
    before = [row["id"] for row in recommend_for_user(clustered.tenant, user, n=3, strategy_name="ease").items]

    bad = activate(copy_of(ease_versions(garbage).get(), clustered))
    assert bad.pk in get_runtime(clustered).versions
    during = [row["id"] for row in recommend_for_user(clustered.tenant, user, n=3, strategy_name="ease").items]

    assert rollback(clustered, good.role).pk == good.pk
    after = [row["id"] for row in recommend_for_user(clustered.tenant, user, n=3, strategy_name="ease").items]

    assert all(item_id.startswith("rocket-") for item_id in before)
    assert not all(item_id.startswith("rocket-") for item_id in during)
    assert after == before


# The activation gate


def test_gate_rejects_worse_version(clustered):
    garbage = ease_strategy(clustered.tenant, "garbage", event_weights=ONLY_DISLIKES)
    train(garbage)
    good = ease_versions(clustered).get()
    set_options(clustered, activation_margin=0.0, activation_max_users=None)
    candidate = copy_of(ease_versions(garbage).get(), clustered)

    record = activate_trained(clustered, [candidate])

    candidate.refresh_from_db()
    good.refresh_from_db()
    assert record["activated"] is False
    assert not candidate.is_active
    assert candidate.activated_at is None
    assert good.is_active
    stored = candidate.metrics["activation"]
    assert stored["metric"] == "ndcg@10"
    assert stored["new_score"] < stored["active_score"]
    assert stored["active_versions"] == [good.pk]
    assert "below the active versions'" in stored["reason"]


def test_gate_margin_lets_worse_version_through(clustered):
    garbage = ease_strategy(clustered.tenant, "garbage", event_weights=ONLY_DISLIKES)
    train(garbage)
    set_options(clustered, activation_margin=1.0, activation_metric="recall", activation_k=5)
    candidate = copy_of(ease_versions(garbage).get(), clustered)

    record = activate_trained(clustered, [candidate])

    candidate.refresh_from_db()
    assert record["activated"] is True
    assert record["metric"] == "recall@5"
    assert candidate.is_active
    assert candidate.metrics["activation"]["new_score"] < candidate.metrics["activation"]["active_score"]


def test_train_run_passes_gate(clustered):
    set_options(clustered, activation_margin=0.0)
    run = train(clustered)

    first, second = ease_versions(clustered)
    assert run.status == TrainingRun.Status.SUCCEEDED
    assert run.result["activated"] is True
    assert run.result["activation"]["new_score"] == run.result["activation"]["active_score"]
    assert run.result["activation"]["active_versions"] == [first.pk]
    assert second.is_active


def test_train_run_reports_gate_failure(tenant):
    # Without item vectors the gate cannot evaluate, so the new version must not serve.
    load_clustered(tenant)
    strategy = ease_strategy(tenant, "ease")
    train(strategy)
    set_options(strategy, activation_margin=0.0)

    run = train(strategy)

    first, second = ease_versions(strategy)
    assert run.status == TrainingRun.Status.SUCCEEDED
    assert run.result["activated"] is False
    assert "could not evaluate" in run.result["activation"]["reason"]
    assert "semrec_encode" in run.result["activation"]["reason"]
    assert first.is_active
    assert not second.is_active
    assert second.metrics["activation"]["activated"] is False


def test_gate_first_version_activates(tenant):
    load_clustered(tenant)
    strategy = ease_strategy(tenant, "ease", activation_margin=0.0)
    run = train(strategy)
    assert run.result["activated"] is True
    assert "No active version" in run.result["activation"]["reason"]
    assert ease_versions(strategy).get().is_active


# Encoder changes


def test_encoder_change_queues_encode(tenant, broker, django_capture_on_commit_callbacks):
    strategy = Strategy.objects.create(tenant=tenant, name="content", is_default=True, scorer_id="content", intent_model_id="")

    with django_capture_on_commit_callbacks(execute=True):
        strategy.scorer_id = "hybrid"
        strategy.save()
    assert not TrainingRun.objects.filter(strategy=strategy).exists()

    with django_capture_on_commit_callbacks(execute=True):
        strategy.encoder_id, strategy.encoder_config = "lexical", LEXICAL
        strategy.save()
    run = TrainingRun.objects.get(strategy=strategy)
    assert run.kind == TrainingRun.Kind.ENCODE
    assert run.status == TrainingRun.Status.QUEUED

    # A second change while that run waits does not queue another.
    with django_capture_on_commit_callbacks(execute=True):
        strategy.encoder_config = {**LEXICAL, "dimension": 8}
        strategy.save()
    assert TrainingRun.objects.filter(strategy=strategy).count() == 1


def test_encoder_change_without_broker_queues_nothing(tenant, django_capture_on_commit_callbacks):
    strategy = Strategy.objects.create(tenant=tenant, name="content", is_default=True, scorer_id="content", intent_model_id="")
    with django_capture_on_commit_callbacks(execute=True):
        strategy.encoder_id, strategy.encoder_config = "lexical", LEXICAL
        strategy.save()
    assert not TrainingRun.objects.filter(strategy=strategy).exists()
