"""Request and response shapes, for validation of query parameters and the OpenAPI schema."""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers


class RecommendationQuerySerializer(serializers.Serializer):
    n = serializers.IntegerField(default=10, min_value=1, max_value=200, help_text=_("Number of items to return."))
    exclude_seen = serializers.BooleanField(default=True, help_text=_("Leave out items the user already interacted with."))
    explain = serializers.BooleanField(default=False, help_text=_("Add an explanation to each item."))
    strategy = serializers.SlugField(required=False, help_text=_("Strategy name; the tenant's default when omitted."))


class SimilarQuerySerializer(serializers.Serializer):
    n = serializers.IntegerField(default=10, min_value=1, max_value=200, help_text=_("Number of items to return."))
    strategy = serializers.SlugField(required=False, help_text=_("Strategy name; the tenant's default when omitted."))


class ItemRowSerializer(serializers.Serializer):
    id = serializers.CharField(max_length=255)
    title = serializers.CharField(max_length=1000)
    description = serializers.CharField(required=False, allow_blank=True)
    tags = serializers.ListField(child=serializers.CharField(), required=False)
    categories = serializers.ListField(child=serializers.CharField(), required=False)
    attributes = serializers.DictField(required=False)
    available = serializers.BooleanField(required=False, default=True)


class UserRowSerializer(serializers.Serializer):
    id = serializers.CharField(max_length=255)
    attributes = serializers.DictField(required=False)


class EventRowSerializer(serializers.Serializer):
    user_id = serializers.CharField(max_length=255)
    item_id = serializers.CharField(max_length=255, required=False, help_text=_("Required unless kind is 'search'."))
    kind = serializers.CharField(help_text=_("view, click, add_to_cart, purchase, rating, like, dislike or search."))
    value = serializers.FloatField(required=False, help_text=_("Required for ratings."))
    timestamp = serializers.DateTimeField(required=False, help_text=_("ISO 8601 or Unix seconds; now when omitted."))
    query = serializers.CharField(required=False, help_text=_("Query text; required for searches."))
    idempotency_key = serializers.CharField(required=False, max_length=255)
    recommendation_id = serializers.UUIDField(required=False)


class WriteResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    duplicates = serializers.IntegerField()


class ExplanationEvidenceSerializer(serializers.Serializer):
    id = serializers.CharField()
    title = serializers.CharField()
    similarity = serializers.FloatField()


class ExplanationSerializer(serializers.Serializer):
    reason = serializers.CharField()
    because = ExplanationEvidenceSerializer(many=True)
    scorers = serializers.DictField(child=serializers.FloatField())


class RecommendedItemSerializer(serializers.Serializer):
    id = serializers.CharField()
    title = serializers.CharField()
    score = serializers.FloatField()
    explanation = ExplanationSerializer(required=False)


class RecommendationResponseSerializer(serializers.Serializer):
    recommendation_id = serializers.UUIDField()
    strategy = serializers.CharField()
    fell_back = serializers.BooleanField()
    notes = serializers.ListField(child=serializers.CharField())
    items = RecommendedItemSerializer(many=True)
