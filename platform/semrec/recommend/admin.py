from django.contrib import admin

from semrec.insights.pagination import EstimatedCountAdminMixin
from semrec.tenants.admin_scope import TenantScopedAdminMixin

from .models import Recommendation


@admin.register(Recommendation)
class RecommendationAdmin(TenantScopedAdminMixin, EstimatedCountAdminMixin, admin.ModelAdmin):
    # One row per served list, so this table grows like the event table: no counts.
    list_display = ["id", "tenant", "strategy", "kind", "user", "fell_back", "created_at"]
    list_filter = ["tenant", "kind", "fell_back"]
    list_select_related = ["tenant", "strategy", "user"]
    raw_id_fields = ["user", "source_item"]
    sortable_by = ["created_at"]
    show_facets = admin.ShowFacets.NEVER
