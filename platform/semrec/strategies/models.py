"""Strategies: a tenant's named recommendation pipeline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
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
    # Set only by encode runs; see semrec.vectors.serving for how serving picks a space.
    serving_space = models.ForeignKey(
        "vectors.EmbeddingSpace",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="serving_strategies",
        verbose_name=_("serving space"),
        help_text=_("The last embedding space an encode run completed for this strategy."),
    )
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
        encoder_changed = self._encoder_changed()
        super().save(*args, **kwargs)
        if encoder_changed:
            # Imported here because the training app imports this module.
            from semrec.training.versions import queue_encoder_switch

            transaction.on_commit(lambda: queue_encoder_switch(self))

    def encoder_fingerprint(self) -> str:
        """Return the fingerprint of the encoder id and its options set away from their defaults."""
        from semrec.vectors.models import config_fingerprint

        cls = get_registry().get("encoder", self.encoder_id)
        config = cls.validate_config(self.encoder_config or {}).model_dump(mode="json", exclude_defaults=True)
        return config_fingerprint(self.encoder_id, config)

    def _encoder_changed(self) -> bool:
        """Return whether this save changes the encoder of an existing strategy."""
        if self.pk is None:
            return False
        stored = Strategy.objects.filter(pk=self.pk).first()
        if stored is None:
            return False
        try:
            return stored.encoder_fingerprint() != self.encoder_fingerprint()
        except (PluginNotInstalled, PluginConfigError):
            # The stored encoder was uninstalled or its options no longer validate: treat it as a change.
            return True

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
