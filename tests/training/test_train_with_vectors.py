"""Training passes the strategy's item vectors to plugins that blend text into collaborative models."""

import pytest

from semrec.strategies.models import Strategy
from semrec.training.models import ModelVersion, TrainingRun
from semrec.training.runs import RunFailed, run_now

EASE_WITH_TEXT = {"regularization": 1.0, "text_weight": 1.0}


@pytest.mark.django_db
def test_ease_with_text_trains_after_encoding(catalogue):
    strategy = Strategy.objects.create(tenant=catalogue, name="ease-text", scorer_id="ease", scorer_config=EASE_WITH_TEXT, intent_model_id="")
    run_now(strategy, TrainingRun.Kind.ENCODE)

    run = run_now(strategy, TrainingRun.Kind.TRAIN)

    assert [entry["role"].split(":")[1] for entry in run.result["trained"]] == ["ease"]
    assert ModelVersion.objects.filter(strategy=strategy, plugin_id="ease", is_active=True).exists()


@pytest.mark.django_db
def test_ease_with_text_before_encoding_says_to_encode(catalogue):
    strategy = Strategy.objects.create(tenant=catalogue, name="ease-text", scorer_id="ease", scorer_config=EASE_WITH_TEXT, intent_model_id="")

    with pytest.raises(RunFailed, match="text_weight to 0"):
        run_now(strategy, TrainingRun.Kind.TRAIN)
