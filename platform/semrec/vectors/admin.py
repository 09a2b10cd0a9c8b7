from django.contrib import admin

from semrec.tenants.admin_scope import TenantScopedAdminMixin

from .models import EmbeddingSpace


@admin.register(EmbeddingSpace)
class EmbeddingSpaceAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    list_display = ["tenant", "encoder_id", "model_name", "dimension", "created_at"]
    list_filter = ["tenant", "encoder_id"]
    readonly_fields = ["fingerprint", "model_name", "dimension", "created_at"]
