"""Tenant and strategy look-ups for management commands, with readable errors."""

from django.core.management.base import CommandError

from .models import Tenant


def get_tenant(slug: str) -> Tenant:
    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is None:
        known = ", ".join(Tenant.objects.values_list("slug", flat=True)) or "none"
        raise CommandError(f"Tenant '{slug}' does not exist. Existing tenants: {known}. Create it with semrec_import --create-tenant or in the admin.")
    return tenant
