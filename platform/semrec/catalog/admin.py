from django.contrib import admin

from semrec.tenants.admin_scope import TenantScopedAdminMixin

from .models import Event, Item, User


@admin.register(Item)
class ItemAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    list_display = ["external_id", "title", "tenant", "available", "updated_at"]
    list_filter = ["tenant", "available"]
    search_fields = ["external_id", "title"]
    readonly_fields = ["text_hash", "created_at", "updated_at"]
    show_full_result_count = False


@admin.register(User)
class UserAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    list_display = ["external_id", "tenant", "created_at"]
    list_filter = ["tenant"]
    search_fields = ["external_id"]
    ordering = ["external_id"]
    show_full_result_count = False


@admin.register(Event)
class EventAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    list_display = ["timestamp", "kind", "user", "item", "value", "tenant"]
    list_filter = ["tenant", "kind"]
    raw_id_fields = ["user", "item"]
    show_full_result_count = False
