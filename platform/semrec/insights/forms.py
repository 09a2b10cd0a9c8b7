"""The charts page's choices: tenant, date range, offline metric and cut-off K, all read from the query string."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from semrec.evaluation.models import EvaluationResult
from semrec.tenants.models import Tenant

from .data import OFFLINE_METRICS, DateRange

DEFAULT_DAYS = 30
#: Maximum days the page draws, one year. Every day is a point of each series and widens the event scan.
MAX_DAYS = 366
DEFAULT_K = 10


class IsoDateField(forms.DateField):
    """A date in the form YYYY-MM-DD; the error names the value that failed."""

    input_formats = ["%Y-%m-%d"]

    def to_python(self, value):
        try:
            return super().to_python(value)
        except ValidationError as err:
            raise ValidationError(
                gettext_lazy("%(value)s is not a date. Use the form YYYY-MM-DD, such as 2026-01-31."),
                code="invalid",
                params={"value": value},
            ) from err


class TenantChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, tenant):
        return f"{tenant.name} ({tenant.slug})"


def metric_choices() -> list[tuple[str, str]]:
    return [(name, EvaluationResult._meta.get_field(name).verbose_name) for name in OFFLINE_METRICS]


class ChartsForm(forms.Form):
    tenant = TenantChoiceField(
        label=gettext_lazy("Tenant"),
        queryset=Tenant.objects.none(),
        empty_label=None,
        error_messages={
            "invalid_choice": gettext_lazy(
                "Tenant %(value)s does not exist or you are not a member of it. Pick one of the tenants in the list."
            ),
        },
    )
    start = IsoDateField(label=gettext_lazy("From"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    end = IsoDateField(
        label=gettext_lazy("To (included)"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    metric = forms.ChoiceField(label=gettext_lazy("Offline metric"), choices=metric_choices)
    k = forms.IntegerField(label=gettext_lazy("K"), min_value=1, max_value=1000)

    def __init__(self, data, tenants, *args, **kwargs):
        """Bind the query string ``data``, filling what it leaves out with the defaults."""
        today = timezone.localdate()
        self.defaults = {
            "tenant": tenants[0].pk if tenants else None,
            "start": (today - timedelta(days=DEFAULT_DAYS - 1)).isoformat(),
            "end": today.isoformat(),
            "metric": "ndcg",
            "k": DEFAULT_K,
        }
        merged = {name: data.get(name, default) for name, default in self.defaults.items()}
        super().__init__(merged, *args, **kwargs)
        self.fields["tenant"].queryset = Tenant.objects.filter(pk__in=[tenant.pk for tenant in tenants]).order_by("slug")

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start is None or end is None:
            return cleaned
        if end < start:
            raise ValidationError(
                _("The end date %(end)s is before the start date %(start)s. Swap them or pick another range."),
                code="reversed",
                params={"start": start.isoformat(), "end": end.isoformat()},
            )
        days = (end - start).days + 1
        if days > MAX_DAYS:
            raise ValidationError(
                _("The range from %(start)s to %(end)s spans %(days)d days, more than the maximum of %(max)d. Pick a shorter range."),
                code="too_long",
                params={"start": start.isoformat(), "end": end.isoformat(), "days": days, "max": MAX_DAYS},
            )
        return cleaned

    @property
    def date_range(self) -> DateRange:
        return DateRange(self.cleaned_data["start"], self.cleaned_data["end"])
