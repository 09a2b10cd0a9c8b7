"""``manage.py evaluate``, including how it rejects bad input."""

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from semrec.evaluation.models import EvaluationResult
from semrec.tenants.models import Tenant
from semrec.training.models import TrainingRun

from .conftest import make_strategy


def run(*args):
    out = io.StringIO()
    call_command("evaluate", *args, stdout=out, stderr=io.StringIO(), verbosity=0)
    return out.getvalue()


def _nothing_written():
    return not TrainingRun.objects.filter(kind=TrainingRun.Kind.EVALUATE).exists() and not EvaluationResult.objects.exists()


def test_evaluates_named_strategies(ease_strategy):
    make_strategy(ease_strategy.tenant, "popular", "popularity")
    output = run("--tenant", "acme", "--strategy", "ease", "--strategy", "popular", "--split", "leave_last_out", "-k", "3", "-k", "5")
    lines = output.splitlines()
    assert lines[0] == "Split leave_last_out, seed 42, test part"
    assert sum(line.startswith("ease ") for line in lines) == 2
    assert sum(line.startswith("popular ") for line in lines) == 2
    assert EvaluationResult.objects.filter(strategy__name="popular").count() == 2
    assert set(TrainingRun.objects.filter(kind="evaluate").values_list("status", flat=True)) == {"succeeded"}


def test_default_strategy_when_none_named(ease_strategy):
    output = run("--tenant", "acme", "--split", "random_by_item", "--train-ratio", "0.5")
    assert "Split random_by_item 0.5, seed 42, test part" in output
    assert EvaluationResult.objects.get().strategy.name == "hybrid"


def test_all_strategies(ease_strategy):
    run("--tenant", "acme", "--all-strategies", "--split", "random_by_user", "--train-ratio", "0.5")
    assert set(EvaluationResult.objects.values_list("strategy__name", flat=True)) == {"hybrid", "ease"}


def test_json_output(ease_strategy, tmp_path):
    path = tmp_path / "results.json"
    run("--tenant", "acme", "--strategy", "ease", "--split", "leave_last_out", "--json", str(path))
    [entry] = json.loads(path.read_text())
    assert entry["strategy"] == "ease"
    assert entry["status"] == "succeeded"
    assert set(entry["metrics"]["10"]) >= {"ndcg", "recall", "precision", "map", "mrr", "hit_rate", "coverage", "diversity", "novelty"}


def test_background_runs_eagerly_without_broker(ease_strategy):
    output = run("--tenant", "acme", "--strategy", "ease", "--split", "leave_last_out", "--background")
    assert "Evaluation of strategy 'ease' is training run" in output
    assert "(succeeded)" in output
    assert EvaluationResult.objects.filter(strategy=ease_strategy).exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--train-ratio", "1.5"], "train_ratio"),
        (["-k", "0"], "every K must be between 1 and 1000"),
        (["--max-users", "0"], "max_users"),
        (["--strategy", "nope"], "Strategy 'nope' does not exist"),
        (["--strategy", "ease", "--all-strategies"], "either --strategy or --all-strategies"),
    ],
)
def test_bad_input_writes_nothing(ease_strategy, args, message):
    with pytest.raises(CommandError) as raised:
        run("--tenant", "acme", *args)
    assert message in str(raised.value)
    assert _nothing_written()


def test_unknown_tenant(db):
    with pytest.raises(CommandError) as raised:
        run("--tenant", "ghost")
    assert "'ghost' does not exist" in str(raised.value)


def test_tenant_without_events_writes_nothing(db):
    Tenant.objects.create(slug="empty", name="Empty")
    with pytest.raises(CommandError) as raised:
        run("--tenant", "empty")
    assert "no item events" in str(raised.value)
    assert _nothing_written()


def test_failed_strategy_reported(ease_strategy):
    make_strategy(ease_strategy.tenant, "unencoded", "ease", encoder_config={"max_length": 32})
    with pytest.raises(CommandError) as raised:
        run("--tenant", "acme", "--strategy", "unencoded", "--strategy", "ease", "--split", "leave_last_out")
    assert "Evaluation failed for 'unencoded'" in str(raised.value)
    assert "semrec_encode" in str(raised.value)
    assert EvaluationResult.objects.filter(strategy=ease_strategy).exists()
