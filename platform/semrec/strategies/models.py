"""Strategies: a tenant's named recommendation pipeline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from pydantic import ValidationError as PydanticValidationError

from semrec.plugins import PluginConfigError, PluginNotInstalled, get_registry
from semrec.tenants.models import Tenant

from .options import StrategyOptions


@dataclass(frozen=True)
class PluginSlot:
    """One plugin a strategy names: the model fields it lives in, and its family."""

    field: str
    family: str
    required: bool = True


SLOTS = [
    PluginSlot("encoder", "encoder"),
    PluginSlot("intent_model", "intent_model", required=False),
    PluginSlot("scorer", "scorer"),
    PluginSlot("fallback_scorer", "scorer"),
    PluginSlot("explainer", "explainer", required=False),
]


class Strategy(models.Model):
    """A tenant's named choice of plugins and their configuration for serving recommendations."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="strategies", verbose_name=_("tenant"))
    name = models.SlugField(_("name"), max_length=100)
    is_default = models.BooleanField(_("default"), default=False)
    encoder_id = models.CharField(_("encoder"), max_length=100, default="transformers")
    encoder_config = models.JSONField(_("encoder configuration"), default=dict, blank=True)
    intent_model_id = models.CharField(_("intent model"), max_length=100, blank=True, default="softmax")
    intent_model_config = models.JSONField(_("intent model configuration"), default=dict, blank=True)
    scorer_id = models.CharField(_("scorer"), max_length=100, default="hybrid")
    scorer_config = models.JSONField(_("scorer configuration"), default=dict, blank=True)
    fallback_scorer_id = models.CharField(_("fallback scorer"), max_length=100, default="popularity")
    fallback_scorer_config = models.JSONField(_("fallback scorer configuration"), default=dict, blank=True)
    explainer_id = models.CharField(_("explainer"), max_length=100, blank=True, default="history_similarity")
    explainer_config = models.JSONField(_("explainer configuration"), default=dict, blank=True)
    options = models.JSONField(_("options"), default=dict, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("strategy")
        verbose_name_plural = _("strategies")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="strategies_strategy_unique_name"),
            models.UniqueConstraint(
                fields=["tenant"], condition=models.Q(is_default=True), name="strategies_strategy_one_default"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tenant.slug}/{self.name}"

    def plugin_id(self, slot: PluginSlot) -> str:
        return getattr(self, f"{slot.field}_id")

    def plugin_config(self, slot: PluginSlot) -> dict[str, Any]:
        return getattr(self, f"{slot.field}_config") or {}

    def parsed_options(self) -> StrategyOptions:
        return StrategyOptions.model_validate(self.options or {})

    def save(self, *args, **kwargs):
        # Forms call clean() themselves; code that saves directly is checked
        # too, so no strategy is stored with a plugin that cannot load it.
        self.clean()
        super().save(*args, **kwargs)

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        for slot in SLOTS:
            message = self._slot_error(slot)
            if message:
                errors.setdefault(f"{slot.field}_id", []).append(message)
        try:
            self.parsed_options()
        except PydanticValidationError as err:
            errors["options"] = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors()]
        if errors:
            raise ValidationError(errors)

    def _slot_error(self, slot: PluginSlot) -> str | None:
        plugin_id = self.plugin_id(slot)
        if not plugin_id:
            return str(_("This plugin is required.")) if slot.required else None
        try:
            cls = get_registry().get(slot.family, plugin_id)
            config = cls.validate_config(self.plugin_config(slot))
            for ref in cls.sub_scorers(config) if slot.family == "scorer" else []:
                get_registry().get("scorer", ref.id).validate_config(ref.config)
        except (PluginNotInstalled, PluginConfigError) as err:
            return str(err)
        return None
