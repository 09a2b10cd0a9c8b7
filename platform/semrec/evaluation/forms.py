"""The admin form that starts an evaluation."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from semrec.strategies.models import Strategy

from .protocol import MAX_K, EvaluationError, EvaluationSettings, SplitProtocol, parse_settings


class EvaluationForm(forms.Form):
    strategies = forms.ModelMultipleChoiceField(
        queryset=Strategy.objects.select_related("tenant").order_by("tenant__slug", "name"),
        label=_("strategies"),
        help_text=_("Strategies of one tenant; they are evaluated on the same split."),
    )
    protocol = forms.ChoiceField(label=_("split"), choices=SplitProtocol.choices, initial=SplitProtocol.RANDOM_BY_USER)
    train_ratio = forms.FloatField(
        label=_("training share"), initial=0.75, help_text=_("Share of each user's or item's pairs kept for training (random splits).")
    )
    seed = forms.IntegerField(label=_("seed"), initial=42, min_value=0)
    ks = forms.CharField(label=_("cut-offs K"), initial="10", help_text=_("Comma-separated, for example 5, 10, 20."))
    min_rating = forms.FloatField(
        label=_("minimum relevant rating"), required=False, help_text=_("Held-out ratings below this value are not relevant.")
    )
    validation = forms.BooleanField(
        label=_("validation split"), required=False, help_text=_("Measure on a split of the training part, for tuning.")
    )
    max_users = forms.IntegerField(label=_("maximum users"), required=False, min_value=1)

    def clean_ks(self) -> list[int]:
        raw = self.cleaned_data["ks"]
        try:
            ks = [int(part) for part in raw.replace(" ", "").split(",") if part]
        except ValueError as err:
            raise forms.ValidationError(_("Enter whole numbers separated by commas, such as 5, 10, 20.")) from err
        if not ks or any(not 1 <= k <= MAX_K for k in ks):
            raise forms.ValidationError(_("Each K must be between 1 and %(max)d.") % {"max": MAX_K})
        return ks

    def clean_strategies(self):
        strategies = self.cleaned_data["strategies"]
        if len({strategy.tenant_id for strategy in strategies}) > 1:
            raise forms.ValidationError(_("Choose strategies of one tenant; each tenant is evaluated on its own data."))
        return strategies

    def evaluation_settings(self) -> EvaluationSettings:
        """Return the validated settings; call after is_valid()."""
        data = {key: value for key, value in self.cleaned_data.items() if key != "strategies"}
        try:
            return parse_settings(data)
        except EvaluationError as err:
            raise forms.ValidationError(str(err)) from err

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            self.evaluation_settings()
        return cleaned
