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


class QueryIntegerField(serializers.IntegerField):
    """An integer query parameter whose errors name the value that was sent."""

    default_error_messages = {
        "not_an_integer": _("Must be a whole number, got {input!r}."),
        "too_small": _("Must be at least {min_value}, got {input!r}."),
        "too_large": _("Must be at most {max_value}, got {input!r}."),
    }

    def to_internal_value(self, data):
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError:
            self.fail("not_an_integer", input=data)
        return value

    def run_validators(self, value):
        # DRF's min and max validators name the limit but not the value, so check them here.
        if self.min_value is not None and value < self.min_value:
            self.fail("too_small", min_value=self.min_value, input=value)
        if self.max_value is not None and value > self.max_value:
            self.fail("too_large", max_value=self.max_value, input=value)
        super().run_validators(value)


class QueryBooleanField(serializers.BooleanField):
    """A boolean query parameter whose error names the value that was sent and the accepted spellings."""

    default_error_messages = {"invalid": _("Must be true or false (also 1 or 0, yes or no), got {input!r}.")}


class RecommendationQuerySerializer(serializers.Serializer):
    n = QueryIntegerField(default=10, min_value=1, max_value=200, help_text=_("Number of items to return."))
    exclude_seen = QueryBooleanField(default=True, help_text=_("Leave out items the user already interacted with."))
    explain = QueryBooleanField(default=False, help_text=_("Add an explanation to each item and the top intents."))
    strategy = serializers.SlugField(required=False, help_text=_("Strategy name; the tenant's default when omitted."))
    q = QueryTextField(required=False, help_text=_("Optional free text saying what the user is after now; it steers the intent."))


class SearchQuerySerializer(serializers.Serializer):
    q = QueryTextField(help_text=_("The search text."))
    user = serializers.CharField(required=False, max_length=255, help_text=_("External id of the user to personalise for."))
    n = QueryIntegerField(default=10, min_value=1, max_value=200, help_text=_("Number of items to return."))
    exclude_seen = QueryBooleanField(default=False, help_text=_("Leave out items the user already interacted with."))
    explain = QueryBooleanField(default=False, help_text=_("Add an explanation to each item and the top intents."))
    strategy = serializers.SlugField(required=False, help_text=_("Strategy name; the tenant's default when omitted."))


class SimilarQuerySerializer(serializers.Serializer):
    n = QueryIntegerField(default=10, min_value=1, max_value=200, help_text=_("Number of items to return."))
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


# --- Background runs ---

RUN_KINDS = ("encode", "train", "evaluate")
RUN_STATUSES = ("queued", "running", "succeeded", "failed")


class JsonBooleanField(serializers.BooleanField):
    """A boolean that accepts only JSON true and false, not the strings and numbers BooleanField also reads."""

    default_error_messages = {"invalid": _("Must be true or false (a JSON boolean), got {input!r}.")}

    def to_internal_value(self, data):
        if isinstance(data, bool):
            return data
        self.fail("invalid", input=data)


class RunCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=RUN_KINDS,
        help_text=_("encode: encode the items and rebuild user vectors; train: train the strategy's trainable plugins; "
                    "evaluate: evaluate the strategy offline."),
        error_messages={"invalid_choice": _("Unknown kind {input!r}. Use encode, train or evaluate.")},
    )
    strategy = serializers.SlugField(required=False, max_length=100, help_text=_("Strategy name; the tenant's default when omitted."))
    force = JsonBooleanField(required=False, help_text=_("Re-encode every item, changed or not (encode only)."))
    settings = serializers.DictField(
        required=False,
        help_text=_("Evaluation settings (evaluate only): protocol, train_ratio, seed, ks, min_rating, validation, max_users."),
    )

    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(
                {name: _("Unknown field. Send only kind, strategy, force and settings.") for name in unknown}
            )
        if "force" in attrs and attrs["kind"] != "encode":
            raise serializers.ValidationError({"force": _("force applies only to encode runs. Leave it out for %(kind)s runs.") % {"kind": attrs["kind"]}})
        if "settings" in attrs and attrs["kind"] != "evaluate":
            raise serializers.ValidationError({"settings": _("settings applies only to evaluate runs. Leave it out for %(kind)s runs.") % {"kind": attrs["kind"]}})
        return attrs


class RunListQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=RUN_STATUSES,
        required=False,
        help_text=_("Only runs with this status."),
        error_messages={"invalid_choice": _("Unknown status {input!r}. Use queued, running, succeeded or failed.")},
    )
    kind = serializers.ChoiceField(
        choices=RUN_KINDS,
        required=False,
        help_text=_("Only runs of this kind."),
        error_messages={"invalid_choice": _("Unknown kind {input!r}. Use encode, train or evaluate.")},
    )
    strategy = serializers.SlugField(required=False, max_length=100, help_text=_("Only runs of the strategy with this name."))
    limit = QueryIntegerField(default=20, min_value=1, max_value=200, help_text=_("Number of runs to return."))
    offset = QueryIntegerField(default=0, min_value=0, help_text=_("Number of runs to skip, for the next page."))


class RunModelVersionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    role = serializers.CharField()
    plugin = serializers.CharField(help_text=_("Id of the plugin that was trained."))
    is_active = serializers.BooleanField(help_text=_("Whether the version is still the active one of its role."))
    created_at = serializers.DateTimeField()


class RunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    status = serializers.CharField(help_text=_("queued, running, succeeded or failed."))
    strategy = serializers.CharField(help_text=_("Name of the strategy the run works on."))
    stage = serializers.CharField(help_text=_("The step in progress, such as 'encode items'."))
    done = serializers.IntegerField(help_text=_("Units of the current stage done."))
    total = serializers.IntegerField(help_text=_("Units of the current stage; 0 while not known."))
    percent = serializers.FloatField(help_text=_("Progress of the current stage, 0 to 100."))
    eta_seconds = serializers.FloatField(allow_null=True, help_text=_("Estimated seconds left in the current stage; null until there is a pace."))
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    duration_seconds = serializers.FloatField(allow_null=True, help_text=_("Seconds from start to finish, or so far while running."))
    error = serializers.CharField(help_text=_("Why the run failed; empty otherwise."))
    result = serializers.DictField(help_text=_("Figures of a finished run; their keys depend on the kind."))
    model_versions = RunModelVersionSerializer(many=True, help_text=_("Model versions the run produced."))


class RunPageSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text=_("Runs that match the filters, on all pages."))
    next = serializers.CharField(allow_null=True, help_text=_("URL of the next page; null on the last."))
    results = RunSerializer(many=True)
