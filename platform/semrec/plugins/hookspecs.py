"""The plugin contract: one registration hook per plugin family.

Built-in plugins register through these hooks exactly like third-party
packages do: a package names a module in the ``semrec`` entry-point group,
and that module implements one or more of the hooks below with
``@semrec.plugins.hookimpl``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .base import Encoder, Explainer, IntentModel, Scorer

PROJECT_NAME = "semrec"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def register_encoders() -> list[type[Encoder]]:
    """Return the encoder classes this plugin provides.

    Called once per process, when the registry is first built. Each class
    must subclass :class:`semrec.plugins.Encoder` and carry a unique ``id``.
    Return an empty list (or do not implement the hook) to provide none.
    """


@hookspec
def register_intent_models() -> list[type[IntentModel]]:
    """Return the intent model classes this plugin provides.

    Called once per process, when the registry is first built. Each class
    must subclass :class:`semrec.plugins.IntentModel` and carry a unique ``id``.
    """


@hookspec
def register_scorers() -> list[type[Scorer]]:
    """Return the scorer classes this plugin provides.

    Called once per process, when the registry is first built. Each class
    must subclass :class:`semrec.plugins.Scorer` and carry a unique ``id``.
    """


@hookspec
def register_explainers() -> list[type[Explainer]]:
    """Return the explainer classes this plugin provides.

    Called once per process, when the registry is first built. Each class
    must subclass :class:`semrec.plugins.Explainer` and carry a unique ``id``.
    """
