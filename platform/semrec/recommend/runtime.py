"""Per-process cache of strategies' plugin instances and their trained state.

The trained state includes the fit of an encoder that learns from item
texts, which also decides the embedding space the strategy searches.
While the space of a newly configured encoder is being encoded, the runtime
serves the strategy's previous space with that space's own encoder (see
semrec.vectors.serving).

A runtime is rebuilt when its strategy is saved or its serving space
changes, and re-checks the active model versions every
``SEMREC_RUNTIME_REFRESH_SECONDS`` so that a newly activated version, new or
old, serves without a restart.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from django.conf import settings

from semrec.plugins import Encoder, IntentModel, PluginError, Scorer, get_registry
from semrec.strategies.models import Strategy
from semrec.strategies.plugins import StrategyPlugins, build_plugins, role_of
from semrec.training.models import ModelVersion
from semrec.vectors.models import EmbeddingSpace
from semrec.vectors.serving import resolve_serving_space
from semrec.vectors.spaces import find_space, load_model_version

logger = logging.getLogger(__name__)


@dataclass
class StrategyRuntime:
    strategy: Strategy
    plugins: StrategyPlugins | None
    fallback: Scorer
    space: EmbeddingSpace | None
    versions: tuple[int, ...]
    checked_at: float
    #: Why the strategy's own plugins could not be built, if they could not.
    error: str = ""
    untrained: list[str] = field(default_factory=list)
    #: The encoder of ``space``: the strategy's own, or while a new space is encoded, the one that built the old space.
    space_encoder: Encoder | None = None
    #: The strategy's serving space pointer when this runtime was built.
    serving_space_id: int | None = None

    @property
    def scorer(self) -> Scorer | None:
        return self.plugins.scorer if self.plugins else None

    @property
    def intent_model(self) -> IntentModel | None:
        return self.plugins.intent_model if self.plugins else None


_lock = threading.Lock()
_runtimes: dict[int, StrategyRuntime] = {}


def get_runtime(strategy: Strategy) -> StrategyRuntime:
    now = time.monotonic()
    with _lock:
        cached = _runtimes.get(strategy.pk)
    if cached is not None and _unchanged(cached, strategy):
        if now - cached.checked_at < settings.SEMREC_RUNTIME_REFRESH_SECONDS:
            return cached
        if _active_versions(strategy) == cached.versions:
            cached.checked_at = now
            return cached

    runtime = _build(strategy, now)
    with _lock:
        _runtimes[strategy.pk] = runtime
    return runtime


def _unchanged(cached: StrategyRuntime, strategy: Strategy) -> bool:
    """Return whether the strategy row still matches the cached runtime; an encode run's switch moves the pointer."""
    return cached.strategy.updated_at == strategy.updated_at and cached.serving_space_id == strategy.serving_space_id


def clear_runtimes() -> None:
    with _lock:
        _runtimes.clear()


def _active_versions(strategy: Strategy) -> tuple[int, ...]:
    return tuple(ModelVersion.objects.filter(strategy=strategy, is_active=True).order_by("pk").values_list("pk", flat=True))


def _build(strategy: Strategy, now: float) -> StrategyRuntime:
    versions = _active_versions(strategy)
    try:
        plugins = build_plugins(strategy)
    except PluginError as err:
        logger.error("Tenant %s strategy %s cannot be built, serving its fallback: %s", strategy.tenant_id, strategy.pk, err)
        return StrategyRuntime(
            strategy, None, _last_resort(strategy), None, versions, now, error=str(err), serving_space_id=strategy.serving_space_id
        )

    untrained = _load_versions(strategy, plugins, versions)
    # Looked up after loading, because a fitted encoder's space depends on its version.
    serving = resolve_serving_space(strategy, plugins.encoder, find_space(strategy.tenant, plugins.encoder))
    space = serving.space
    logger.info(
        "Tenant %s strategy %s loaded (space %s%s, versions %s)",
        strategy.tenant_id, strategy.pk, space and space.pk, ", until the new encoder's space is complete" if serving.switching else "", versions,
    )
    return StrategyRuntime(
        strategy, plugins, plugins.fallback, space, versions, now,
        untrained=untrained, space_encoder=serving.encoder, serving_space_id=strategy.serving_space_id,
    )


def _load_versions(strategy: Strategy, plugins: StrategyPlugins, versions: tuple[int, ...]) -> list[str]:
    """Load the active versions into the trainable plugins and the encoder; return the ids of those without one."""
    by_role = {version.role: version for version in ModelVersion.objects.filter(pk__in=versions)}
    untrained = []
    for role, instances in plugins.trainables.items():
        version = by_role.get(role)
        if version is None:
            untrained.append(instances[0].id)
            continue
        for instance in instances:
            instance.load(bytes(version.artifact))

    encoder = plugins.encoder
    if encoder.fits_on_texts:
        version = by_role.get(role_of(encoder))
        if version is None:
            # An unfitted encoder finds the space of unfitted vectors, if one was ever encoded.
            untrained.append(encoder.id)
        else:
            load_model_version(encoder, version)
    return untrained


def _last_resort(strategy: Strategy) -> Scorer:
    """Build the strategy's fallback scorer, or popularity when even that is not installed."""
    registry = get_registry()
    try:
        return registry.create("scorer", strategy.fallback_scorer_id, strategy.fallback_scorer_config)
    except PluginError:
        return registry.create("scorer", settings.SEMREC_LAST_RESORT_SCORER)
