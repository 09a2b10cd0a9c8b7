"""The public plugin API: hooks, base classes, data types and the registry."""

from .base import Encoder, Explainer, IntentModel, Plugin, PluginConfig, Scorer
from .batch import CandidateItems, top_positions
from .context import InMemoryContext, ScoringContext, normalise, weighted_mean
from .errors import InsufficientTrainingData, PluginConfigError, PluginError, PluginNotFitted, PluginNotInstalled, PluginRegistrationError
from .hookspecs import hookimpl
from .registry import PluginRegistry, build_plugin_manager, get_registry, set_registry
from .types import (
    Evidence,
    Explanation,
    HistoryEntry,
    IntentExamples,
    IntentPrediction,
    InteractionData,
    PluginRef,
    ProgressCallback,
    ScoredItem,
    SearchEntry,
)

__all__ = [
    "CandidateItems",
    "Encoder",
    "Evidence",
    "Explainer",
    "Explanation",
    "HistoryEntry",
    "InMemoryContext",
    "InsufficientTrainingData",
    "IntentExamples",
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
    "SearchEntry",
    "ScoringContext",
    "build_plugin_manager",
    "get_registry",
    "hookimpl",
    "normalise",
    "set_registry",
    "top_positions",
    "weighted_mean",
]
