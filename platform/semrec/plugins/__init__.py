"""The public plugin API: hooks, base classes, data types and the registry."""

from .base import Encoder, Explainer, IntentModel, Plugin, PluginConfig, Scorer
from .context import InMemoryContext, ScoringContext, normalise, weighted_mean
from .errors import PluginConfigError, PluginError, PluginNotFitted, PluginNotInstalled, PluginRegistrationError
from .hookspecs import hookimpl
from .registry import PluginRegistry, build_plugin_manager, get_registry, set_registry
from .types import (
    Evidence,
    Explanation,
    HistoryEntry,
    IntentPrediction,
    InteractionData,
    PluginRef,
    ProgressCallback,
    ScoredItem,
)

__all__ = [
    "Encoder",
    "Evidence",
    "Explainer",
    "Explanation",
    "HistoryEntry",
    "InMemoryContext",
    "IntentModel",
    "IntentPrediction",
    "InteractionData",
    "Plugin",
    "PluginConfig",
    "PluginConfigError",
    "PluginError",
    "PluginNotFitted",
    "PluginNotInstalled",
    "PluginRef",
    "PluginRegistrationError",
    "PluginRegistry",
    "ProgressCallback",
    "ScoredItem",
    "Scorer",
    "ScoringContext",
    "build_plugin_manager",
    "get_registry",
    "hookimpl",
    "normalise",
    "set_registry",
    "weighted_mean",
]
