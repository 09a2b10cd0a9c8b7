from django.contrib import admin

from semrec.tenants.admin_scope import TenantScopedAdminMixin

from .models import Recommendation


@admin.register(Recommendation)
class RecommendationAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    list_display = ["id", "tenant", "strategy", "kind", "user", "fell_back", "created_at"]
    list_filter = ["tenant", "kind", "fell_back"]
    raw_id_fields = ["user", "source_item"]
    show_full_result_count = False
