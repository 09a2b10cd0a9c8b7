"""The softmax intent model on examples with a known answer."""

import numpy as np
import pytest

from semrec.plugins import InsufficientTrainingData, get_registry
from semrec.plugins.testing import tiny_intent_examples, tiny_item_vectors


@pytest.fixture
def model():
    plugin = get_registry().create("intent_model", "softmax", {"learning_rate": 0.1})
    plugin.fit(tiny_intent_examples())
    return plugin


def test_learns_which_category_follows_a_user(model):
    vectors = tiny_item_vectors()

    space_user = model.predict(vectors[3][np.newaxis, :], None).distributions[0]
    cooking_user = model.predict(vectors[7][np.newaxis, :], None).distributions[0]

    assert space_user["space"] > 0.8
    assert cooking_user["cooking"] > 0.8


def test_query_overrides_history(model):
    vectors = tiny_item_vectors()

    distribution = model.predict(vectors[3][np.newaxis, :], vectors[6][np.newaxis, :]).distributions[0]

    assert distribution["cooking"] > distribution["space"]


def test_fit_reports_validation_accuracy():
    plugin = get_registry().create("intent_model", "softmax", {})

    metrics = plugin.fit(tiny_intent_examples())

    assert metrics["top1_accuracy"] == 1.0
    assert metrics["validation_examples"] == 12
    assert 1 <= metrics["best_epoch"] <= metrics["epochs"]


def test_intent_vector_leans_to_predicted_centroid(model):
    unknown_user = np.zeros((1, 4), dtype=np.float32)
    space_query = tiny_item_vectors()[2][np.newaxis, :]

    vector = model.predict(unknown_user, space_query).vectors[0]

    space_centroid, cooking_centroid = model.centroids[1], model.centroids[0]
    assert vector @ space_centroid > vector @ cooking_centroid


def test_unknown_user_without_query_gets_the_prior(model):
    prediction = model.predict(np.zeros((1, 4), dtype=np.float32), None)

    assert sum(prediction.distributions[0].values()) == pytest.approx(1.0)


def test_too_few_examples_names_found_and_needed():
    plugin = get_registry().create("intent_model", "softmax", {"min_examples": 200})

    with pytest.raises(InsufficientTrainingData) as raised:
        plugin.fit(tiny_intent_examples(120))

    assert "found 120 training examples" in str(raised.value)
    assert "at least 200" in str(raised.value)


def test_single_category_refused():
    examples = tiny_intent_examples()
    examples.labels = ["space"]
    examples.targets = np.ones((len(examples), 1), dtype=np.float32)
    examples.centroids = examples.centroids[:1]

    with pytest.raises(InsufficientTrainingData, match="needs at least 2"):
        get_registry().create("intent_model", "softmax", {}).fit(examples)


def test_untrained_model_refuses_to_predict():
    from semrec.plugins import PluginNotFitted

    plugin = get_registry().create("intent_model", "softmax", {})

    with pytest.raises(PluginNotFitted):
        plugin.predict(np.zeros((1, 4), dtype=np.float32), None)


def test_rare_intent_learnt_with_class_weights():
    examples = tiny_intent_examples(400)
    # Keep only one cooking example in ten, so that cooking is rare.
    keep = [i for i in range(len(examples)) if examples.targets[i, 1] == 1.0 or i % 20 == 1]
    for name in ("user_vectors", "query_vectors", "targets", "timestamps"):
        setattr(examples, name, getattr(examples, name)[keep])
    plugin = get_registry().create("intent_model", "softmax", {"class_weighting": "balanced"})
    plugin.fit(examples)

    distribution = plugin.predict(tiny_item_vectors()[6][np.newaxis, :], None).distributions[0]

    assert distribution["cooking"] > 0.5


def test_bad_config_rejected():
    from semrec.plugins import PluginConfigError

    with pytest.raises(PluginConfigError, match="validation_fraction"):
        get_registry().create("intent_model", "softmax", {"validation_fraction": 0.9})
