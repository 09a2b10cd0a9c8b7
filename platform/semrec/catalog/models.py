"""Items, end users and their events."""

from __future__ import annotations

import hashlib

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from semrec.tenants.models import Tenant

from .language import LANGUAGE_TAG_LENGTH, InvalidLanguageTag, normalise_language_tag, resolve_language

EXTERNAL_ID_LENGTH = 255


def validate_language_tag(value: str) -> None:
    try:
        normalise_language_tag(value)
    except InvalidLanguageTag as err:
        raise ValidationError(
            _("%(value)r is not a BCP 47 language tag. Use a tag such as zh-Hans, zh, en or pt-BR, or leave it empty."),
            params={"value": value},
            code="invalid_language",
        ) from err


class Item(models.Model):
    """A catalogue entry, identified by the tenant's own external id."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="items", verbose_name=_("tenant"))
    external_id = models.CharField(_("external id"), max_length=EXTERNAL_ID_LENGTH)
    title = models.CharField(_("title"), max_length=1000)
    description = models.TextField(_("description"), blank=True, default="")
    tags = models.JSONField(_("tags"), default=list, blank=True)
    categories = models.JSONField(_("categories"), default=list, blank=True)
    attributes = models.JSONField(_("attributes"), default=dict, blank=True)
    available = models.BooleanField(_("available"), default=True)
    language = models.CharField(
        _("language"),
        max_length=LANGUAGE_TAG_LENGTH,
        blank=True,
        default="",
        validators=[validate_language_tag],
        help_text=_("BCP 47 tag such as zh-Hans or en; detected from the text when the client sends none, empty when unknown."),
    )
    text_hash = models.CharField(_("text hash"), max_length=64, editable=False, default="")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("item")
        verbose_name_plural = _("items")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "external_id"], name="catalog_item_unique_external_id"),
        ]

    def __str__(self) -> str:
        return f"{self.external_id}: {self.title}"

    def save(self, *args, **kwargs):
        text = item_text(self.title, self.description, self.tags, self.categories)
        self.language = resolve_language(self.language, text)
        self.text_hash = text_hash(text, self.language)
        super().save(*args, **kwargs)


def item_text(title: str, description: str, tags: list[str], categories: list[str]) -> str:
    """Compose the text that encoders receive for an item."""
    parts = [title]
    if categories:
        parts.append(", ".join(categories))
    if tags:
        parts.append(", ".join(tags))
    if description:
        parts.append(description)
    return ". ".join(part for part in parts if part)


def text_hash(text: str, language: str = "") -> str:
    """Hash what an encoder receives: the text and, when known, its language.

    An item without a language hashes its text alone, so hashes stored
    before items had a language still match and nothing is re-encoded.
    """
    if language:
        text = f"{language}\n{text}"
    return hashlib.sha256(text.encode()).hexdigest()


class User(models.Model):
    """An end user of a tenant (not a login of this site), by external id."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="users", verbose_name=_("tenant"))
    external_id = models.CharField(_("external id"), max_length=EXTERNAL_ID_LENGTH)
    attributes = models.JSONField(_("attributes"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("end user")
        verbose_name_plural = _("end users")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "external_id"], name="catalog_user_unique_external_id"),
        ]

    def __str__(self) -> str:
        return self.external_id


class EventKind(models.TextChoices):
    VIEW = "view", _("view")
    CLICK = "click", _("click")
    ADD_TO_CART = "add_to_cart", _("add to cart")
    PURCHASE = "purchase", _("purchase")
    RATING = "rating", _("rating")
    LIKE = "like", _("like")
    DISLIKE = "dislike", _("dislike")
    SEARCH = "search", _("search")


class Event(models.Model):
    """A user's action on an item, or a search with its query text."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="events", verbose_name=_("tenant"))
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="events", verbose_name=_("user"))
    item = models.ForeignKey(
        Item, on_delete=models.CASCADE, related_name="events", null=True, blank=True, verbose_name=_("item")
    )
    kind = models.CharField(_("kind"), max_length=20, choices=EventKind.choices)
    value = models.FloatField(_("value"), null=True, blank=True)
    timestamp = models.DateTimeField(_("timestamp"))
    query = models.TextField(_("query text"), blank=True, default="")
    idempotency_key = models.CharField(_("idempotency key"), max_length=255, null=True, blank=True)
    recommendation_id = models.UUIDField(_("recommendation id"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="catalog_event_unique_idempotency_key",
            ),
        ]
        indexes = [
            models.Index(fields=["user", "-timestamp"], name="catalog_event_user_time"),
            models.Index(fields=["tenant", "-timestamp"], name="catalog_event_tenant_time"),
            models.Index(fields=["tenant", "item"], name="catalog_event_tenant_item"),
        ]

    def __str__(self) -> str:
        target = self.item.external_id if self.item_id else repr(self.query)
        return f"{self.user.external_id} {self.kind} {target} at {self.timestamp:%Y-%m-%d %H:%M}"
