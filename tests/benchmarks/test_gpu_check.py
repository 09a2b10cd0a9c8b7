"""benchmarks/gpu_check.py: the CPU dry run and the message when CUDA is missing.

The CUDA pass itself needs a GPU and is not run here.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "gpu_check.py"


def _run(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, **env}
    )


def test_dry_run_on_cpu(tmp_path):
    output = tmp_path / "gpu.json"

    completed = _run("--device", "cpu", "--texts", "24", "--batch-size", "8", "--json", str(output))

    assert completed.returncode == 0, completed.stderr
    assert "OK: the vectors agree." in completed.stdout
    results = json.loads(output.read_text())
    assert results["device"] == "cpu"
    assert results["texts"] == 24
    assert results["final_batch_size"] == 8
    assert results["min_cosine"] >= 0.99
    assert results["vectors_agree"] is True
    assert results["dry_run_cpu_float32_items_per_second"] > 0
    assert results["cpu_float32_items_per_second"] > 0


def test_generated_texts_without_dataset(tmp_path):
    completed = _run("--device", "cpu", "--texts", "5", "--batch-size", "2", "--path", str(tmp_path))

    assert completed.returncode == 0, completed.stderr
    assert "5 texts from generated sentences" in completed.stdout


def test_no_cuda_fails_with_message():
    # An empty CUDA_VISIBLE_DEVICES hides every GPU, so this holds on GPU machines too.
    completed = _run("--texts", "5", CUDA_VISIBLE_DEVICES="")

    assert completed.returncode == 2
    assert "CUDA is not available" in completed.stderr
    assert "--device cpu" in completed.stderr
    assert completed.stdout == ""


def test_bad_arguments_rejected():
    for args, message in [
        (["--texts", "0"], "--texts must be between 1 and 100,000"),
        (["--batch-size", "0"], "--batch-size must be at least 1"),
        (["--memory-fraction", "1.5"], "--memory-fraction must be greater than 0"),
        (["--device", "tpu"], "invalid choice: 'tpu'"),
    ]:
        completed = _run("--device", "cpu", *args) if "--device" not in args else _run(*args)

        assert completed.returncode == 2, args
        assert message in completed.stderr, (args, completed.stderr)
