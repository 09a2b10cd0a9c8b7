"""Exceptions raised by the plugin system."""


class PluginError(Exception):
    """Base class for plugin problems."""


class PluginNotInstalled(PluginError):
    """A strategy or request names a plugin id that no installed package registers."""


class PluginRegistrationError(PluginError):
    """A package registered an invalid plugin class or a duplicate id."""


class PluginConfigError(PluginError):
    """A plugin configuration does not match the plugin's schema.

    ``errors`` lists ``{"field": ..., "reason": ...}`` entries.
    """

    def __init__(self, plugin_id: str, errors: list[dict[str, str]]):
        self.plugin_id = plugin_id
        self.errors = errors
        details = "; ".join(f"{error['field']}: {error['reason']}" for error in errors)
        super().__init__(f"Invalid configuration for plugin '{plugin_id}': {details}")


class PluginNotFitted(PluginError):
    """A trainable plugin was asked to serve before it was trained or loaded."""


class InsufficientTrainingData(PluginError):
    """A trainable plugin found too little data to learn from; retrying will not help until data grows."""
