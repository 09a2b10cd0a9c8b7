"""The plugin manager and the registry of plugin classes by family and id."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

import pluggy

from . import hookspecs
from .base import FAMILY_BASES, Plugin
from .errors import PluginNotInstalled, PluginRegistrationError

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "semrec"

#: Family name -> the hook that registers it.
FAMILY_HOOKS = {
    "encoder": "register_encoders",
    "intent_model": "register_intent_models",
    "scorer": "register_scorers",
    "explainer": "register_explainers",
}

FAMILY_LABELS = {
    "encoder": "encoders",
    "intent_model": "intent models",
    "scorer": "scorers",
    "explainer": "explainers",
}


class PluginRegistry:
    """Plugin classes collected from a plugin manager, checked and indexed by id."""

    def __init__(self, manager: pluggy.PluginManager):
        self.manager = manager
        self._sources = _plugin_sources(manager)
        self._classes: dict[str, dict[str, type[Plugin]]] = {family: {} for family in FAMILY_HOOKS}
        for family, hook_name in FAMILY_HOOKS.items():
            self._collect(family, hook_name)

    def _collect(self, family: str, hook_name: str) -> None:
        hook = getattr(self.manager.hook, hook_name)
        for impl in hook.get_hookimpls():
            source = self._sources.get(impl.plugin, impl.plugin_name)
            for cls in impl.function() or []:
                self._add(family, cls, source)

    def _add(self, family: str, cls: type, source: str) -> None:
        base = FAMILY_BASES[family]
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise PluginRegistrationError(
                f"{source} registered {cls!r} as one of the {FAMILY_LABELS[family]}, "
                f"but it is not a subclass of {base.__module__}.{base.__name__}."
            )
        plugin_id = getattr(cls, "id", None)
        if not isinstance(plugin_id, str) or not plugin_id:
            raise PluginRegistrationError(f"{source} registered {cls.__qualname__} without a string 'id'.")

        existing = self._classes[family].get(plugin_id)
        if existing is not None:
            raise PluginRegistrationError(
                f"Two packages register the {family} id '{plugin_id}': "
                f"{existing.__module__}.{existing.__qualname__} and {source} ({cls.__module__}.{cls.__qualname__}). "
                "Uninstall one of them or give one plugin another id."
            )
        cls._semrec_source = source
        self._classes[family][plugin_id] = cls

    def ids(self, family: str) -> list[str]:
        return sorted(self._classes[family])

    def classes(self, family: str) -> list[type[Plugin]]:
        return [self._classes[family][plugin_id] for plugin_id in self.ids(family)]

    def get(self, family: str, plugin_id: str) -> type[Plugin]:
        """Return the class registered as ``plugin_id`` or raise PluginNotInstalled."""
        try:
            return self._classes[family][plugin_id]
        except KeyError:
            installed = ", ".join(self.ids(family)) or "none"
            raise PluginNotInstalled(
                f"{family.replace('_', ' ').capitalize()} '{plugin_id}' is not installed. "
                f"Installed {FAMILY_LABELS[family]}: {installed}. "
                "Install the package that provides it or pick another in the strategy."
            ) from None

    def create(self, family: str, plugin_id: str, config: Mapping[str, Any] | None = None) -> Plugin:
        """Instantiate ``plugin_id`` with a validated configuration."""
        return self.get(family, plugin_id)(config or {})

    def source_of(self, cls: type[Plugin]) -> str:
        return getattr(cls, "_semrec_source", cls.__module__)


def _plugin_sources(manager: pluggy.PluginManager) -> dict[object, str]:
    """Map each registered plugin module to the distribution that installed it."""
    sources = {}
    for plugin, dist in manager.list_plugin_distinfo():
        sources[plugin] = f"{dist.project_name} {dist.version}"
    return sources


def build_plugin_manager(load_entry_points: bool = True) -> pluggy.PluginManager:
    """Create a plugin manager with semrec's hookspecs and, by default, every installed plugin."""
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    if load_entry_points:
        manager.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    return manager


_lock = threading.Lock()
_registry: PluginRegistry | None = None


def get_registry() -> PluginRegistry:
    """Return the process-wide registry, building it on first use."""
    global _registry
    with _lock:
        if _registry is None:
            _registry = PluginRegistry(build_plugin_manager())
            logger.info(
                "Loaded plugins: %s",
                "; ".join(f"{family}: {', '.join(_registry.ids(family))}" for family in FAMILY_HOOKS),
            )
        return _registry


def set_registry(registry: PluginRegistry | None) -> None:
    """Replace the process-wide registry (None rebuilds it on next use); for tests."""
    global _registry
    with _lock:
        _registry = registry
