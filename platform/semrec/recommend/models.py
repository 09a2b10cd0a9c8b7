"""Served recommendation lists, kept for attribution and metrics."""

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _

from semrec.catalog.models import Item, User
from semrec.strategies.models import Strategy
from semrec.tenants.models import Tenant


class Recommendation(models.Model):
    """One served list. Events that cite its id are attributed to its strategy."""

    class Kind(models.TextChoices):
        USER = "user", _("for a user")
        SIMILAR = "similar", _("similar items")
        SEARCH = "search", _("search")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="recommendations", verbose_name=_("tenant"))
    strategy = models.ForeignKey(Strategy, on_delete=models.SET_NULL, null=True, related_name="recommendations", verbose_name=_("strategy"))
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.USER)
    user = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("user"))
    source_item = models.ForeignKey(Item, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("source item"))
    query = models.TextField(_("query text"), blank=True, default="")
    items = models.JSONField(_("items"), default=list)
    fell_back = models.BooleanField(_("fell back"), default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("recommendation")
        verbose_name_plural = _("recommendations")
        ordering = ["-created_at"]
