"""Encoder plugin for Hugging Face transformer models (mean pooling, L2 norm)."""

from semrec.plugins import hookimpl

from .encoder import TransformersEncoder


@hookimpl
def register_encoders():
    return [TransformersEncoder]
