"""Request and response shapes, for validation of query parameters and the OpenAPI schema."""

from django.conf import settings
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers


class QueryTextField(serializers.CharField):
    """Free query text: 1 to SEMREC_MAX_QUERY_LENGTH characters after trimming spaces."""

    def __init__(self, **kwargs):
        limit = settings.SEMREC_MAX_QUERY_LENGTH
        if kwargs.get("required", True):
            blank = format_lazy(_("The query is empty. Send between 1 and {limit} characters."), limit=limit)
        else:
            blank = format_lazy(_("The query is empty. Send between 1 and {limit} characters, or leave q out."), limit=limit)
        # Lazy, so that each request gets the message in its own language.
        messages = {
            "blank": blank,
            "max_length": _("The query is longer than {max_length} characters. Shorten it to at most {max_length}."),
        }
        super().__init__(max_length=limit, error_messages=messages, **kwargs)

    def get_value(self, dictionary):
        # DRF reads an empty optional form value as absent; "q=" is a mistake to report.
        if self.field_name in dictionary and dictionary[self.field_name] == "":
            return ""
        return super().get_value(dictionary)


class RecommendationQuerySerializer(serializers.Serializer):
    n = serializers.IntegerField(default=10, min_value=1, max_value=200, help_text=_("Number of items to return."))
    exclude_seen = serializers.BooleanField(default=True, help_text=_("Leave out items the user already interacted with."))
    explain = serializers.BooleanField(default=False, help_text=_("Add an explanation to each item and the top intents."))
    strategy = serializers.SlugField(required=False, help_text=_("Strategy name; the tenant's default when omitted."))
    q = QueryTextField(required=False, help_text=_("Optional free text saying what the user is after now; it steers the intent."))


class SearchQuerySerializer(serializers.Serializer):
    q = QueryTextField(help_text=_("The search text."))
    user = serializers.CharField(required=False, max_length=255, help_text=_("External id of the user to personalise for."))
    n = serializers.IntegerField(default=10, min_value=1, max_value=200, help_text=_("Number of items to return."))
    exclude_seen = serializers.BooleanField(default=False, help_text=_("Leave out items the user already interacted with."))
    explain = serializers.BooleanField(default=False, help_text=_("Add an explanation to each item and the top intents."))
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
    language = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=35,
        help_text=_(
            "BCP 47 language tag of the item's text, such as zh-Hans, zh-Hant or en. "
            "When omitted or empty, Chinese, Japanese and Korean are detected from the script; other text stays unknown."
        ),
    )


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


class IntentLabelSerializer(serializers.Serializer):
    label = serializers.CharField()
    probability = serializers.FloatField()


class IntentSerializer(serializers.Serializer):
    model = serializers.CharField(help_text=_("The intent model that read the intent."))
    top = IntentLabelSerializer(many=True, help_text=_("The most likely intents; empty for models without a distribution."))


class RecommendationResponseSerializer(serializers.Serializer):
    recommendation_id = serializers.UUIDField()
    strategy = serializers.CharField()
    fell_back = serializers.BooleanField()
    notes = serializers.ListField(child=serializers.CharField())
    items = RecommendedItemSerializer(many=True)
    intent = IntentSerializer(required=False, help_text=_("Only with explain=1."))
