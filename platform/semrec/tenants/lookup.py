"""Tenant and strategy look-ups for management commands, with readable errors."""

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.core.validators import validate_slug

from .models import Tenant


def get_tenant(slug: str) -> Tenant:
    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is None:
        known = ", ".join(Tenant.objects.values_list("slug", flat=True)) or "none"
        raise CommandError(
            f"Tenant '{slug}' does not exist. Existing tenants: {known}. "
            "Create it with --create-tenant (semrec_apikey, semrec_import) or in the admin."
        )
    return tenant


def get_or_create_tenant(slug: str) -> Tenant:
    """Return the tenant with this slug, creating it (named after the slug) when missing."""
    try:
        validate_slug(slug)
    except ValidationError as err:
        raise CommandError(f"Invalid tenant slug {slug!r}: use letters, digits, hyphens and underscores only.") from err
    tenant, _created = Tenant.objects.get_or_create(slug=slug, defaults={"name": slug})
    return tenant
