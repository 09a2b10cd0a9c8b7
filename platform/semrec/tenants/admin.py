"""Tenants, their staff memberships and API keys in the admin."""

from __future__ import annotations

import logging

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from .admin_scope import TenantScopedAdminMixin
from .models import ApiKey, Tenant, TenantMembership

logger = logging.getLogger(__name__)


class TenantMembershipInline(admin.TabularInline):
    model = TenantMembership
    extra = 0
    autocomplete_fields = ["user"]
    readonly_fields = ["created_at"]
    verbose_name = gettext_lazy("staff member")
    verbose_name_plural = gettext_lazy("staff members (see and change only this tenant's rows)")


@admin.register(Tenant)
class TenantAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    list_display = ["slug", "name", "created_at"]
    search_fields = ["slug", "name"]

    def has_add_permission(self, request):
        # A staff user could not see a tenant they create, so only superusers create tenants.
        return request.user.is_superuser and super().has_add_permission(request)

    def get_inlines(self, request, obj):
        return [TenantMembershipInline] if request.user.is_superuser else []


@admin.register(ApiKey)
class ApiKeyAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "tenant", "prefix_column", "created_at", "last_used_at", "status_column"]
    list_filter = ["tenant"]
    search_fields = ["name", "prefix"]
    readonly_fields = ["prefix_column", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    @admin.display(description=gettext_lazy("key"), ordering="prefix")
    def prefix_column(self, key):
        return f"sr_{key.prefix}_…" if key.prefix else "-"

    @admin.display(description=gettext_lazy("status"), ordering="revoked_at")
    def status_column(self, key):
        return _("revoked") if key.revoked_at else _("active")

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["tenant", "name"]
        return ["tenant", "name", "prefix_column", "created_at", "last_used_at", "revoked_at"]

    def get_readonly_fields(self, request, obj=None):
        # The tenant of an existing key is fixed: moving a credential between tenants would hand it their data.
        return [*self.readonly_fields, "tenant"] if obj else []

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        # A new key gets its secret here; it is shown once and only its hash is stored.
        key, raw_key = ApiKey.issue(obj.tenant, obj.name)
        obj.pk, obj.prefix, obj.hashed_key = key.pk, key.prefix, key.hashed_key
        logger.info("API key %s (prefix %s) created in the admin for tenant %s", key.pk, key.prefix, key.tenant_id)
        messages.warning(request, _("New API key (copy it now, it is not shown again): %(key)s") % {"key": raw_key})

    @admin.action(description=gettext_lazy("Revoke the selected API keys"), permissions=["change"])
    def revoke(self, request, queryset):
        keys = list(queryset.filter(revoked_at__isnull=True).values_list("pk", flat=True))
        ApiKey.objects.filter(pk__in=keys).update(revoked_at=timezone.now())
        logger.info("API keys %s revoked in the admin by user %s", keys, request.user.pk)
        message = ngettext("Revoked %(count)d API key.", "Revoked %(count)d API keys.", len(keys))
        self.message_user(request, message % {"count": len(keys)}, messages.SUCCESS)
