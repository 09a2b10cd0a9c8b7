"""One error shape for every API response: ``{"error": {"code", "message", ...}}``."""

from __future__ import annotations

from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class BatchRejected(exceptions.APIException):
    """A bulk request with invalid rows; nothing of it was written."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid_batch"

    def __init__(self, errors: list[dict]):
        # Sorted by row so that a client can walk its batch and the errors together.
        self.errors = sorted(errors, key=lambda error: error["index"])
        rows = {error["index"] for error in errors if error["index"] >= 0}
        if not rows:
            # Only the body as a whole is wrong (not an array, empty, too long).
            message = _("The request body is invalid; nothing was written. See 'errors'.")
        else:
            message = _("%(count)d invalid row(s); nothing was written. Fix the rows listed in 'errors' and resend the batch.") % {
                "count": len(rows)
            }
        super().__init__(message)


class NotFound(exceptions.NotFound):
    def __init__(self, message: str, code: str):
        super().__init__(message, code=code)


def not_found_view(request, unmatched: str = ""):
    """Return a 404 for an unknown path under /api/v1/ in the API's JSON error format."""
    from django.http import JsonResponse

    message = _("No API endpoint at %(path)s. See /api/v1/docs/ for the endpoints.") % {"path": request.path}
    return JsonResponse({"error": {"code": "not_found", "message": message}}, status=404)


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class InvalidRequest(exceptions.APIException):
    """HTTP 400 for one invalid value outside a serializer, such as a path parameter."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid"

    def __init__(self, message: str, code: str):
        super().__init__(message, code=code)


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "service_unavailable"

    def __init__(self, message: str, code: str):
        super().__init__(message, code=code)


def exception_handler(exc, context):
    response = drf_exception_handler(exc, context)
    if response is None:
        return None

    body = {"code": _code_of(exc), "message": _message_of(exc)}
    if isinstance(exc, BatchRejected):
        body["errors"] = exc.errors
    elif isinstance(exc, exceptions.ValidationError) and isinstance(exc.detail, dict):
        body["errors"] = [
            {"field": field, "reason": str(reason)}
            for field, reasons in exc.detail.items()
            for reason in (reasons if isinstance(reasons, list) else [reasons])
        ]
    return Response({"error": body}, status=response.status_code, headers=_auth_headers(response))


def _code_of(exc) -> str:
    detail = getattr(exc, "detail", None)
    code = getattr(detail, "code", None)
    return code if isinstance(code, str) else getattr(exc, "default_code", "error")


def _message_of(exc) -> str:
    detail = exc.detail
    if isinstance(exc, exceptions.ValidationError) and not isinstance(detail, str):
        return _("Invalid request parameters. See 'errors' for each field.")
    if isinstance(exc, exceptions.NotAuthenticated):
        return _("Authentication required. Send your API key as 'Authorization: Bearer <key>'.")
    if isinstance(exc, exceptions.UnsupportedMediaType):
        return _("%(detail)s Send the body as JSON with 'Content-Type: application/json'.") % {"detail": detail}
    return str(detail)


def _auth_headers(response) -> dict:
    header = response.get("WWW-Authenticate")
    return {"WWW-Authenticate": header} if header else {}
