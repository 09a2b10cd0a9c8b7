from django.contrib import admin

from semrec.tenants.admin_scope import TenantScopedAdminMixin

from .models import ModelVersion, TrainingRun


@admin.register(ModelVersion)
class ModelVersionAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    list_display = ["strategy", "plugin_id", "role", "is_active", "created_at"]
    list_filter = ["tenant", "is_active", "plugin_id"]
    exclude = ["artifact"]
    readonly_fields = ["tenant", "strategy", "role", "plugin_id", "plugin_version", "metrics", "created_at"]


@admin.register(TrainingRun)
class TrainingRunAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    list_display = ["kind", "strategy", "status", "stage", "done", "total", "started_at", "finished_at"]
    list_filter = ["tenant", "kind", "status"]
    readonly_fields = [field.name for field in TrainingRun._meta.fields]
