"""REST endpoints, versioned under /api/v1/. Every request is bound to one tenant by its API key."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from semrec.catalog import ingest, validation
from semrec.catalog.models import Item, User
from semrec.recommend import service

from . import runs, serializers
from .errors import BatchRejected, Conflict, NotFound


def _reject_if_invalid(errors: validation.BatchErrors) -> None:
    if errors:
        raise BatchRejected(errors.errors)


class UpsertBatchView(APIView):
    """Base of the bulk upsert endpoints: validate every row, then write all or nothing."""

    # Only JSON carries an array of rows, so form and multipart bodies get HTTP 415.
    parser_classes = [JSONParser]
    validate_rows: Callable
    write_rows: Callable

    def post(self, request):
        rows, errors = type(self).validate_rows(request.data, settings.SEMREC_MAX_BATCH_ROWS)
        _reject_if_invalid(errors)
        result = type(self).write_rows(request.user.tenant, rows)
        return Response(vars(result))


@extend_schema_view(
    post=extend_schema(
        summary="Create or update items",
        request=serializers.ItemRowSerializer(many=True),
        responses={200: serializers.WriteResultSerializer},
    )
)
class ItemBatchView(UpsertBatchView):
    validate_rows = staticmethod(validation.validate_items)
    write_rows = staticmethod(ingest.upsert_items)


@extend_schema_view(
    post=extend_schema(
        summary="Create or update end users",
        request=serializers.UserRowSerializer(many=True),
        responses={200: serializers.WriteResultSerializer},
    )
)
class UserBatchView(UpsertBatchView):
    validate_rows = staticmethod(validation.validate_users)
    write_rows = staticmethod(ingest.upsert_users)


class EventBatchView(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Insert events",
        description="Rows whose idempotency_key was already stored are skipped and counted as duplicates.",
        request=serializers.EventRowSerializer(many=True),
        responses={200: serializers.WriteResultSerializer},
    )
    def post(self, request):
        tenant = request.user.tenant
        rows, errors = validation.validate_events(request.data, settings.SEMREC_MAX_BATCH_ROWS, timezone.now())
        item_pks = ingest.resolve_event_references(tenant, rows, errors) if rows else {}
        _reject_if_invalid(errors)
        result = ingest.insert_events(tenant, rows, item_pks)
        return Response(vars(result))


def _get_user(tenant, external_id: str) -> User:
    user = User.objects.filter(tenant=tenant, external_id=external_id).first()
    if user is None:
        raise NotFound(_("User %(id)r does not exist. Send their events or POST /api/v1/users/ first.") % {"id": external_id}, "user_not_found")
    return user


def _get_item(tenant, external_id: str) -> Item:
    item = Item.objects.filter(tenant=tenant, external_id=external_id).first()
    if item is None:
        raise NotFound(_("Item %(id)r does not exist. Add it with POST /api/v1/items/ first.") % {"id": external_id}, "item_not_found")
    return item


def _response(result: service.RecommendationResult) -> Response:
    body = {
        "recommendation_id": str(result.id),
        "strategy": result.strategy.name,
        "fell_back": result.fell_back,
        "notes": result.notes,
        "items": result.items,
    }
    if result.intent is not None:
        body["intent"] = result.intent
    return Response(body)


def _query_params(serializer_class, request) -> dict:
    """Validate the query string with ``serializer_class``; invalid values raise HTTP 400."""
    query = serializer_class(data=request.query_params)
    query.is_valid(raise_exception=True)
    return query.validated_data


@contextmanager
def _strategy_lookup():
    """Turn an unknown strategy name into HTTP 404."""
    try:
        yield
    except service.StrategyNotFound as err:
        raise NotFound(str(err), "strategy_not_found") from err


class RecommendationsView(APIView):
    @extend_schema(
        summary="Recommend items for a user",
        parameters=[serializers.RecommendationQuerySerializer],
        responses={200: serializers.RecommendationResponseSerializer},
    )
    def get(self, request, user_id: str):
        params = _query_params(serializers.RecommendationQuerySerializer, request)
        tenant = request.user.tenant
        user = _get_user(tenant, user_id)
        with _strategy_lookup():
            result = service.recommend_for_user(
                tenant,
                user,
                n=params["n"],
                exclude_seen=params["exclude_seen"],
                explain=params["explain"],
                strategy_name=params.get("strategy"),
                query=params.get("q"),
            )
        return _response(result)


class SearchView(APIView):
    @extend_schema(
        summary="Search items by meaning, personalised for a user when one is given",
        parameters=[serializers.SearchQuerySerializer],
        responses={200: serializers.RecommendationResponseSerializer},
    )
    def get(self, request):
        params = _query_params(serializers.SearchQuerySerializer, request)
        tenant = request.user.tenant
        user = _get_user(tenant, params["user"]) if params.get("user") else None
        with _strategy_lookup():
            result = service.search_items(
                tenant,
                params["q"],
                user=user,
                n=params["n"],
                exclude_seen=params["exclude_seen"],
                explain=params["explain"],
                strategy_name=params.get("strategy"),
            )
        return _response(result)


class SimilarItemsView(APIView):
    @extend_schema(
        summary="Items similar to an item",
        parameters=[serializers.SimilarQuerySerializer],
        responses={200: serializers.RecommendationResponseSerializer},
    )
    def get(self, request, item_id: str):
        params = _query_params(serializers.SimilarQuerySerializer, request)
        tenant = request.user.tenant
        item = _get_item(tenant, item_id)
        try:
            with _strategy_lookup():
                result = service.similar_items(tenant, item, n=params["n"], strategy_name=params.get("strategy"))
        except service.ItemNotEncoded as err:
            raise Conflict(str(err), code="item_not_encoded") from err
        return _response(result)


@extend_schema_view(
    get=extend_schema(
        operation_id="runs_list",
        summary="List background runs",
        description="The tenant's encode, train and evaluate runs, newest first.",
        parameters=[serializers.RunListQuerySerializer],
        responses={200: serializers.RunPageSerializer},
    ),
    post=extend_schema(
        operation_id="runs_create",
        summary="Start a background run",
        description=(
            "Creates an encode, train or evaluate run and sends it to the Celery workers. Poll "
            "GET /api/v1/runs/{id}/ for its progress. Without a broker (eager mode) the run executes "
            "during the request, and the response already shows it finished."
        ),
        request=serializers.RunCreateSerializer,
        responses={202: serializers.RunSerializer},
    ),
)
class RunListView(APIView):
    parser_classes = [JSONParser]

    def get(self, request):
        params = _query_params(serializers.RunListQuerySerializer, request)
        return Response(runs.list_page(request, params))

    def post(self, request):
        body = serializers.RunCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        run = runs.start(request.user.tenant, body.validated_data)
        return Response(runs.describe(run), status=202, headers={"Location": runs.run_url(request, run)})


class RunDetailView(APIView):
    @extend_schema(
        operation_id="runs_retrieve",
        summary="Status and progress of a background run",
        parameters=[OpenApiParameter("run_id", int, OpenApiParameter.PATH, description="The run's id.")],
        responses={200: serializers.RunSerializer},
    )
    def get(self, request, run_id: str):
        return Response(runs.describe(runs.get_run(request.user.tenant, run_id)))
