"""Query vectors, cached per process by encoder and text."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
from django.conf import settings

from semrec.plugins import Encoder
from semrec.vectors.spaces import space_fingerprint

_lock = threading.Lock()
_cache: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()


def query_vectors(encoder: Encoder, texts: Sequence[str]) -> dict[str, np.ndarray]:
    """Return ``{text: vector}``, encoding only the texts not cached yet."""
    prefix = _encoder_key(encoder)
    found, missing = {}, []
    with _lock:
        for text in dict.fromkeys(texts):
            vector = _cache.get((prefix, text))
            if vector is None:
                missing.append(text)
            else:
                _cache.move_to_end((prefix, text))
                found[text] = vector

    if missing:
        encoded = encoder.encode_queries(missing)
        with _lock:
            for text, vector in zip(missing, encoded, strict=True):
                _cache[(prefix, text)] = found[text] = vector
            while len(_cache) > settings.SEMREC_QUERY_CACHE_SIZE:
                _cache.popitem(last=False)
    return found


def clear_query_cache() -> None:
    with _lock:
        _cache.clear()


def _encoder_key(encoder: Encoder) -> str:
    # The space key, so a query vector of one fit is never served for another.
    return space_fingerprint(encoder)
