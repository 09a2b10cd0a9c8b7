"""Tenants and their API keys."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

KEY_PREFIX_LENGTH = 8


class Tenant(models.Model):
    """An isolated customer space; every other row belongs to exactly one tenant."""

    slug = models.SlugField(_("slug"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("tenant")
        verbose_name_plural = _("tenants")
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class TenantMembership(models.Model):
    """A staff user's access to one tenant in the admin; superusers need none."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("tenant"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tenant_memberships", verbose_name=_("staff user")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("tenant membership")
        verbose_name_plural = _("tenant memberships")
        constraints = [models.UniqueConstraint(fields=["tenant", "user"], name="tenants_membership_unique_user")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.tenant}"


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


class ApiKeyQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True)


class ApiKey(models.Model):
    """A tenant's REST credential. Only its SHA-256 hash and prefix are stored."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_keys", verbose_name=_("tenant"))
    name = models.CharField(_("name"), max_length=200)
    prefix = models.CharField(_("prefix"), max_length=KEY_PREFIX_LENGTH, unique=True, editable=False)
    hashed_key = models.CharField(_("hashed key"), max_length=64, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}...)"

    @classmethod
    def issue(cls, tenant: Tenant, name: str) -> tuple[ApiKey, str]:
        """Create a key and return it with the raw secret, which is shown only once."""
        prefix = secrets.token_hex(KEY_PREFIX_LENGTH // 2)
        raw_key = f"sr_{prefix}_{secrets.token_urlsafe(32)}"
        key = cls.objects.create(tenant=tenant, name=name, prefix=prefix, hashed_key=hash_key(raw_key))
        return key, raw_key

    @classmethod
    def authenticate(cls, raw_key: str) -> ApiKey | None:
        """Return the active key matching ``raw_key``, or None."""
        parts = raw_key.split("_")
        if len(parts) < 3 or parts[0] != "sr":
            return None
        key = cls.objects.active().select_related("tenant").filter(prefix=parts[1]).first()
        if key is None or not hmac.compare_digest(key.hashed_key, hash_key(raw_key)):
            return None
        return key

    def touch(self) -> None:
        """Record a use, at most once a minute so that reads stay cheap."""
        now = timezone.now()
        if self.last_used_at is None or (now - self.last_used_at).total_seconds() > 60:
            ApiKey.objects.filter(pk=self.pk).update(last_used_at=now)
            self.last_used_at = now
