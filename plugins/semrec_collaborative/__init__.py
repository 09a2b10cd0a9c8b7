"""Collaborative filtering scorer: implicit-feedback ALS matrix factorisation."""

from semrec.plugins import hookimpl

from .als import AlsScorer


@hookimpl
def register_scorers():
    return [AlsScorer]
