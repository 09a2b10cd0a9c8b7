"""The admin's entry for the charts page. The charts read other apps' tables and store nothing."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Chart(models.Model):
    """A model without a table, so the charts get an entry in the admin index like a model admin."""

    class Meta:
        managed = False
        # Viewing the charts requires catalog.view_event (see ChartAdmin), so no permission of its own.
        default_permissions = ()
        verbose_name = _("chart")
        verbose_name_plural = _("charts")
