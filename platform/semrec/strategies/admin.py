from django.contrib import admin

from .models import Strategy


@admin.register(Strategy)
class StrategyAdmin(admin.ModelAdmin):
    list_display = ["name", "tenant", "is_default", "encoder_id", "scorer_id", "explainer_id", "updated_at"]
    list_filter = ["tenant", "is_default"]
