from django.contrib import admin

from .models import ModelVersion, TrainingRun


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["strategy", "plugin_id", "role", "is_active", "created_at"]
    list_filter = ["tenant", "is_active", "plugin_id"]
    exclude = ["artifact"]
    readonly_fields = ["tenant", "strategy", "role", "plugin_id", "plugin_version", "metrics", "created_at"]


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    list_display = ["kind", "strategy", "status", "stage", "done", "total", "started_at", "finished_at"]
    list_filter = ["tenant", "kind", "status"]
    readonly_fields = [field.name for field in TrainingRun._meta.fields]
