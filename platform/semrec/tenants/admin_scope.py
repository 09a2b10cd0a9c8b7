"""Tenant scoping for the admin: staff users see and change only the tenants they are members of."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.utils import NotRelationField, get_fields_from_path
from django.core.exceptions import FieldDoesNotExist
from django.db import models

from .models import Tenant, TenantMembership

_CACHE_ATTRIBUTE = "_semrec_tenant_ids"

#: Lookups to the tenant id of models without a ``tenant`` field, declared by
#: their model admins through ``TenantScopedAdminMixin.tenant_path``.
_DECLARED_LOOKUPS: dict[type[models.Model], str] = {}


def allowed_tenant_ids(request) -> frozenset[int] | None:
    """Return the ids of the tenants the request's user may manage, or None for all (superusers)."""
    user = request.user
    if user.is_superuser:
        return None
    cached = getattr(request, _CACHE_ATTRIBUTE, None)
    if cached is None:
        cached = frozenset(TenantMembership.objects.filter(user_id=user.pk).values_list("tenant_id", flat=True))
        setattr(request, _CACHE_ATTRIBUTE, cached)
    return cached


def declare_tenant_path(model: type[models.Model], path: str) -> None:
    """Record that rows of ``model`` belong to the tenant reached by ``path``, such as ``"strategy__tenant"``.

    Raises ImproperlyConfigured (from Django's field lookup) when a step of the
    path is not a field, and ValueError when the path does not end at Tenant.
    """
    fields = get_fields_from_path(model, path)
    last = fields[-1]
    if not (last.is_relation and last.related_model is Tenant):
        raise ValueError(f"Tenant path '{path}' of {model._meta.label} ends at {last.name}, not at a foreign key to Tenant.")
    _DECLARED_LOOKUPS[model] = f"{path}_id"


def tenant_lookup(model: type[models.Model]) -> str | None:
    """Return the lookup from ``model`` to its tenant's id, or None when the model has no tenant."""
    if issubclass(model, Tenant):
        return "pk"
    if model in _DECLARED_LOOKUPS:
        return _DECLARED_LOOKUPS[model]
    try:
        field = model._meta.get_field("tenant")
    except FieldDoesNotExist:
        return None
    if field.is_relation and field.related_model is Tenant:
        return "tenant_id"
    return None


def is_tenant_owned(model: type[models.Model]) -> bool:
    return tenant_lookup(model) is not None


def scope_queryset(queryset: models.QuerySet, request) -> models.QuerySet:
    """Filter ``queryset`` to the rows of the tenants the request's user may manage."""
    lookup = tenant_lookup(queryset.model)
    tenant_ids = allowed_tenant_ids(request)
    if lookup is None or tenant_ids is None:
        return queryset
    return queryset.filter(**{f"{lookup}__in": tenant_ids})


def object_in_scope(obj: models.Model | None, request) -> bool:
    """Check that ``obj`` belongs to a tenant the request's user may manage; True when there is no object."""
    lookup = tenant_lookup(type(obj)) if obj is not None else None
    tenant_ids = allowed_tenant_ids(request)
    if lookup is None or tenant_ids is None:
        return True
    return tenant_id_of(obj, lookup) in tenant_ids


def tenant_id_of(obj: models.Model, lookup: str) -> int | None:
    """Follow ``lookup`` (as tenant_lookup returns it) from ``obj`` to its tenant's id; None where a step is unset."""
    value = obj
    for attribute in lookup.split("__"):
        value = getattr(value, attribute, None)
        if value is None:
            return None
    return value


class ScopedRelatedFieldListFilter(admin.RelatedFieldListFilter):
    """A related-object sidebar filter that offers only the rows of the user's tenants."""

    def field_choices(self, field, request, model_admin):
        related = scope_queryset(field.related_model._default_manager.all(), request)
        ordering = self.field_admin_ordering(field, request, model_admin)
        if ordering:
            related = related.order_by(*ordering)
        return [(obj.pk, str(obj)) for obj in related]


class TenantScopedAdminMixin:
    """Limit a ModelAdmin to the tenants of the staff user: lists, object pages, pickers, filters, actions.

    Superusers see every tenant. Everything else in the admin (search, actions, autocomplete,
    raw-id pop-ups) goes through ``get_queryset`` and is scoped with it.

    A model without its own ``tenant`` field sets ``tenant_path`` to the lookup
    of its tenant through its relations, such as ``"strategy__tenant"``.
    """

    tenant_path: str | None = None

    def __init__(self, model, admin_site):
        if self.tenant_path is not None:
            declare_tenant_path(model, self.tenant_path)
        super().__init__(model, admin_site)

    def get_queryset(self, request):
        return scope_queryset(super().get_queryset(request), request)

    def has_view_permission(self, request, obj=None):
        return object_in_scope(obj, request) and super().has_view_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return object_in_scope(obj, request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return object_in_scope(obj, request) and super().has_delete_permission(request, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # Form validation checks the submitted id against this queryset, so crafted
        # form data that names another tenant's row is rejected as an invalid choice.
        if is_tenant_owned(db_field.related_model) and "queryset" not in kwargs:
            queryset = self.get_field_queryset(None, db_field, request)
            if queryset is None:
                queryset = db_field.remote_field.model._default_manager.using(kwargs.get("using")).all()
            kwargs["queryset"] = scope_queryset(queryset, request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if is_tenant_owned(db_field.related_model) and "queryset" not in kwargs:
            queryset = self.get_field_queryset(None, db_field, request)
            if queryset is None:
                queryset = db_field.remote_field.model._default_manager.using(kwargs.get("using")).all()
            kwargs["queryset"] = scope_queryset(queryset, request)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_list_filter(self, request):
        return [self._scoped_filter(entry) for entry in super().get_list_filter(request)]

    def _scoped_filter(self, entry):
        if not isinstance(entry, str):
            return entry
        try:
            field = get_fields_from_path(self.model, entry)[-1]
        except (FieldDoesNotExist, NotRelationField):
            return entry
        if field.is_relation and is_tenant_owned(field.related_model):
            return (entry, ScopedRelatedFieldListFilter)
        return entry
