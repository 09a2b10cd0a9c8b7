"""Build a strategy's plugin instances, including the scorers a hybrid combines."""

from __future__ import annotations

from dataclasses import dataclass, field

from semrec.plugins import Encoder, Explainer, IntentModel, Plugin, Scorer, get_registry
from semrec.vectors.models import plugin_fingerprint

from .models import Strategy


@dataclass
class StrategyPlugins:
    """Instances of every plugin a strategy names; trainable ones grouped by role.

    A role can hold several instances when a hybrid names the same scorer
    twice with one configuration; they share one trained state.
    """

    encoder: Encoder
    scorer: Scorer
    fallback: Scorer
    intent_model: IntentModel | None = None
    explainer: Explainer | None = None
    trainables: dict[str, list[Plugin]] = field(default_factory=dict)


def role_of(plugin: Plugin) -> str:
    """Return the ModelVersion role of a trainable plugin: its family, id and config hash."""
    return f"{plugin.family}:{plugin.id}:{plugin_fingerprint(plugin)}"


def build_plugins(strategy: Strategy) -> StrategyPlugins:
    """Instantiate the strategy's plugins; raises PluginNotInstalled or PluginConfigError."""
    registry = get_registry()
    trainables: dict[str, list[Plugin]] = {}

    def track(plugin: Plugin) -> Plugin:
        if plugin.trainable:
            trainables.setdefault(role_of(plugin), []).append(plugin)
        return plugin

    def build_scorer(plugin_id: str, config: dict) -> Scorer:
        scorer = registry.create("scorer", plugin_id, config)
        children = [build_scorer(ref.id, ref.config) for ref in scorer.sub_scorers(scorer.config)]
        scorer.bind_sub_scorers(children)
        return track(scorer)

    plugins = StrategyPlugins(
        encoder=registry.create("encoder", strategy.encoder_id, strategy.encoder_config),
        scorer=build_scorer(strategy.scorer_id, strategy.scorer_config),
        fallback=build_scorer(strategy.fallback_scorer_id, strategy.fallback_scorer_config),
    )
    if strategy.intent_model_id:
        plugins.intent_model = track(
            registry.create("intent_model", strategy.intent_model_id, strategy.intent_model_config)
        )
    if strategy.explainer_id:
        plugins.explainer = registry.create("explainer", strategy.explainer_id, strategy.explainer_config)
    plugins.trainables = trainables
    return plugins
