"""The strategy form of the admin: plugin dropdowns, schema help and configuration errors on the right field."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from semrec.plugins import PluginConfigError, PluginNotInstalled, get_registry

from .models import SLOTS, PluginSlot, Strategy

SCHEMA_LIMITS = ["minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum", "minLength", "maxLength", "minItems", "enum"]


def plugin_choice_label(cls) -> str:
    """Return the dropdown text of a plugin class: label, id, version and providing package."""
    source = get_registry().source_of(cls)
    return _("%(label)s (%(id)s, version %(version)s, from %(package)s)") % {
        "label": cls.label,
        "id": cls.id,
        "version": cls.version,
        "package": source,
    }


def plugin_choices(slot: PluginSlot, current: str) -> list[tuple[str, str]]:
    """Return the installed plugins of the slot's family, plus the current id when it is not installed."""
    registry = get_registry()
    choices = [(cls.id, plugin_choice_label(cls)) for cls in registry.classes(slot.family)]
    if not slot.required:
        choices.insert(0, ("", _("(none)")))
    if current and current not in registry.ids(slot.family):
        choices.append((current, _("%(id)s (not installed)") % {"id": current}))
    return choices


def _type_text(spec: dict[str, Any]) -> str:
    if "anyOf" in spec:
        return " | ".join(_type_text(option) for option in spec["anyOf"])
    if "$ref" in spec:
        return spec["$ref"].rsplit("/", 1)[-1]
    if spec.get("type") == "array" and "items" in spec:
        return f"array of {_type_text(spec['items'])}"
    return str(spec.get("type", "any"))


def _limits_text(spec: dict[str, Any]) -> str:
    options = [spec, *spec.get("anyOf", [])]
    return ", ".join(f"{key}: {json.dumps(option[key])}" for option in options for key in SCHEMA_LIMITS if key in option)


def schema_rows(schema: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """Return one row per configuration key: name, type, default, limits and description."""
    required = set(schema.get("required", []))
    rows = []
    for name, spec in schema.get("properties", {}).items():
        if "default" in spec:
            default = json.dumps(spec["default"])
        elif name in required:
            default = _("required")
        else:
            default = "-"
        rows.append((name, _type_text(spec), default, _limits_text(spec) or "-", spec.get("description", "")))
    return rows


def schema_help(cls) -> str:
    """Render a plugin's configuration schema as an HTML table for the field's help text."""
    rows = schema_rows(cls.config_schema())
    if not rows:
        return format_html("<p>{}</p>", _("%(plugin)s takes no configuration. Leave the field as {}.") % {"plugin": cls.id})
    body = format_html_join("", "<tr><td><code>{}</code></td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>", rows)
    return format_html(
        '<table class="semrec-schema"><caption>{}</caption><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead>'
        "<tbody>{}</tbody></table>",
        _("Configuration of %(plugin)s") % {"plugin": cls.id},
        _("key"),
        _("type"),
        _("default"),
        _("limits"),
        _("description"),
        body,
    )


def family_schema_help(slot: PluginSlot) -> str:
    """Render the schema of every plugin of the slot's family; the page shows the one picked in the dropdown."""
    blocks = [
        format_html('<div class="semrec-schema-block" data-slot="{}" data-plugin="{}">{}</div>', slot.field, cls.id, schema_help(cls))
        for cls in get_registry().classes(slot.family)
    ]
    intro = format_html("<p>{}</p>", _("A JSON object. Keys left out take their defaults."))
    return intro + format_html_join("", "{}", ((block,) for block in blocks))


class StrategyAdminForm(forms.ModelForm):
    """Edit a strategy with one dropdown per plugin slot and each plugin's configuration as JSON."""

    # Not a model field here: the admin makes the strategy the default on save and demotes the
    # old default in the same transaction, which the one-default constraint would reject as a plain field.
    make_default = forms.BooleanField(
        label=gettext_lazy("default"),
        required=False,
        help_text=gettext_lazy("Serve this strategy when a request names none. The tenant's previous default stops being the default."),
    )

    class Meta:
        model = Strategy
        exclude = ["is_default"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["make_default"].initial = self.instance.is_default
        for slot in SLOTS:
            self._prepare_slot(slot)

    def _prepare_slot(self, slot: PluginSlot) -> None:
        id_field, config_field = f"{slot.field}_id", f"{slot.field}_config"
        if id_field not in self.fields:
            return
        current = self.initial.get(id_field) or ""
        old = self.fields[id_field]
        self.fields[id_field] = forms.ChoiceField(
            label=old.label, required=slot.required, choices=plugin_choices(slot, current), help_text=old.help_text
        )
        if config_field in self.fields:
            self.fields[config_field].help_text = family_schema_help(slot)
            self.fields[config_field].widget.attrs.update({"rows": 6, "class": "vLargeTextField semrec-json"})

    def clean(self):
        cleaned = super().clean()
        self._moved_errors: dict[str, set[str]] = {}
        for slot in SLOTS:
            self._check_slot_config(slot, cleaned)
        return cleaned

    def _check_slot_config(self, slot: PluginSlot, cleaned: dict[str, Any]) -> None:
        config_field = f"{slot.field}_config"
        plugin_id = cleaned.get(f"{slot.field}_id")
        config = cleaned.get(config_field)
        if not plugin_id or config_field not in self.fields or config_field in self.errors:
            return
        if not isinstance(config, dict):
            self.add_error(config_field, _('Enter a JSON object, such as {} or {"key": 1}.'))
            return
        registry = get_registry()
        try:
            cls = registry.get(slot.family, plugin_id)
            validated = cls.validate_config(config)
            for ref in cls.sub_scorers(validated) if slot.family == "scorer" else []:
                self._check_sub_scorer(config_field, ref.id, ref.config)
        except PluginNotInstalled:
            return  # The model's check reports it on the plugin dropdown.
        except PluginConfigError as err:
            self._add_config_error(config_field, err, prefix="")

    def _check_sub_scorer(self, config_field: str, scorer_id: str, config: dict[str, Any]) -> None:
        try:
            get_registry().get("scorer", scorer_id).validate_config(config)
        except PluginConfigError as err:
            self._add_config_error(config_field, err, prefix=f"{scorer_id}.")

    def _add_config_error(self, config_field: str, err: PluginConfigError, prefix: str) -> None:
        self._moved_errors.setdefault(config_field, set()).add(str(err))
        for error in err.errors:
            self.add_error(config_field, f"{prefix}{error['field']}: {error['reason']}")

    def _post_clean(self):
        super()._post_clean()
        # The model repeats a configuration error on the plugin field; keep it only on the configuration field.
        for slot in SLOTS:
            id_field, config_field = f"{slot.field}_id", f"{slot.field}_config"
            moved = getattr(self, "_moved_errors", {}).get(config_field, set())
            if not moved or id_field not in self.errors:
                continue
            remaining = [message for message in self.errors[id_field] if message not in moved]
            if remaining:
                self.errors[id_field] = self.error_class(remaining)
            else:
                del self.errors[id_field]
