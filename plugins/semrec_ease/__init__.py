"""EASE scorer: a closed-form, L2-regularised item-item model."""

from semrec.plugins import hookimpl

from .ease import EaseScorer


@hookimpl
def register_scorers():
    return [EaseScorer]
