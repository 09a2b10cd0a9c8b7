"""The plugin registry and the hook specifications."""

import inspect
import re
from pathlib import Path

import pytest

from semrec.plugins import (
    PluginNotInstalled,
    PluginRegistrationError,
    PluginRegistry,
    Scorer,
    build_plugin_manager,
    get_registry,
    hookimpl,
    hookspecs,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"
HOOKS = [name for name, value in vars(hookspecs).items() if name.startswith("register_") and callable(value)]


class EchoScorer(Scorer):
    id = "echo"
    label = "Echo"
    description = "Returns nothing; exists for registry tests."

    def score(self, context, k):
        return []


class EchoPlugin:
    @hookimpl
    def register_scorers(self):
        return [EchoScorer]


class DuplicatePopularity(EchoScorer):
    id = "popularity"


class DuplicatePlugin:
    @hookimpl
    def register_scorers(self):
        return [DuplicatePopularity]


class NotAScorerPlugin:
    @hookimpl
    def register_scorers(self):
        return [object]


def _registry_with(*extra):
    manager = build_plugin_manager()
    for plugin in extra:
        manager.register(plugin)
    return PluginRegistry(manager)


def test_hook_register_encoders():
    assert "transformers" in get_registry().ids("encoder")


def test_hook_register_intent_models():
    assert "passthrough" in get_registry().ids("intent_model")


def test_hook_register_scorers():
    assert {"popularity", "content", "collaborative", "hybrid"} <= set(get_registry().ids("scorer"))


def test_hook_register_explainers():
    assert "history_similarity" in get_registry().ids("explainer")


def test_builtins_come_from_entry_points():
    registry = get_registry()
    source = registry.source_of(registry.get("scorer", "hybrid"))
    assert source.startswith("semrec ")


def test_fake_plugin_registered_and_removed():
    registry = _registry_with(EchoPlugin())
    assert registry.get("scorer", "echo") is EchoScorer
    with pytest.raises(PluginNotInstalled):
        get_registry().get("scorer", "echo")


def test_duplicate_id_names_both():
    with pytest.raises(PluginRegistrationError) as raised:
        _registry_with(DuplicatePlugin())
    message = str(raised.value)
    assert "'popularity'" in message
    assert "semrec_popularity" in message
    assert "DuplicatePopularity" in message


def test_non_subclass_rejected():
    with pytest.raises(PluginRegistrationError) as raised:
        _registry_with(NotAScorerPlugin())
    assert "not a subclass" in str(raised.value)


def test_unknown_id_lists_installed():
    with pytest.raises(PluginNotInstalled) as raised:
        get_registry().get("scorer", "nope")
    message = str(raised.value)
    assert "'nope'" in message
    assert "popularity" in message
    assert "Install the package" in message


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_docstring(hook):
    assert inspect.getdoc(getattr(hookspecs, hook))


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_documented_with_signature(hook):
    function = getattr(hookspecs, hook)
    returns = re.sub(r"\s+", " ", str(inspect.signature(function).return_annotation)).strip("'")
    assert f"### `{hook}() -> {returns}`" in DOCS.read_text()


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_test(hook):
    assert f"test_hook_{hook}" in globals()
