"""The ``by_language`` encoder: a sub-encoder per language, each in its own block of one shared vector."""

from semrec.plugins import hookimpl

from .encoder import ByLanguageEncoder


@hookimpl
def register_encoders():
    return [ByLanguageEncoder]
