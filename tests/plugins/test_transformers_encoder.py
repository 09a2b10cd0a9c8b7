"""The transformers encoder: default weights, local folders, and offline failures."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from semrec_transformers import TransformersEncoder
from semrec_transformers.models import DEFAULT_MODEL, resolve_model

ROOT = Path(__file__).resolve().parents[2]


def test_default_resolves_to_bundled_weights():
    source, name = resolve_model("")
    assert name == DEFAULT_MODEL
    assert (Path(source) / "model.safetensors").exists()


def test_local_folder_loads(tmp_path):
    bundled, _ = resolve_model("")
    encoder = TransformersEncoder({"model": bundled})
    assert encoder.model_name == str(Path(bundled).resolve())
    assert encoder.encode(["hello"]).shape == (1, 384)


def test_similar_texts_are_closer():
    encoder = TransformersEncoder({})
    rocket, astronaut, soup = encoder.encode(["A rocket launch into space", "Astronauts orbit the Earth", "Tomato soup recipe"])
    assert float(np.dot(rocket, astronaut)) > float(np.dot(rocket, soup))


def test_length_sorting_keeps_order():
    encoder = TransformersEncoder({"batch_size": 2})
    texts = ["short", "a much longer text about rockets and space travel", "mid length text"]
    batched = encoder.encode(texts)
    for index, text in enumerate(texts):
        np.testing.assert_allclose(batched[index], encoder.encode([text])[0], atol=1e-4)


def test_unknown_model_offline_explains_fix():
    script = (
        "from semrec_transformers import TransformersEncoder\n"
        "from semrec_transformers.models import ModelLoadError\n"
        "try:\n"
        "    TransformersEncoder({'model': 'no-such-org/no-such-model'}).encode(['x'])\n"
        "except ModelLoadError as err:\n"
        "    print('ERROR:', err)\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": f"{ROOT / 'platform'}:{ROOT / 'plugins'}"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert "ERROR: Could not" in result.stdout, result.stderr[-2000:]
    assert "no-such-org/no-such-model" in result.stdout
    assert "HF_HUB_OFFLINE" in result.stdout
