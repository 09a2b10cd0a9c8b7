"""API key authentication for Django REST Framework, binding a request to one tenant."""

from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions, permissions

from .models import ApiKey


class TenantPrincipal:
    """The authenticated party of an API request: a key and its tenant."""

    is_authenticated = True

    def __init__(self, api_key: ApiKey):
        self.api_key = api_key
        self.tenant = api_key.tenant

    def __str__(self) -> str:
        return f"api-key:{self.api_key.prefix}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """Reads ``Authorization: Bearer <key>`` or ``X-Api-Key: <key>``.

    Every wrong key (unknown prefix, wrong secret, revoked) gets the same
    401 body, so a caller cannot learn whether a tenant or key prefix exists.
    A missing key gets a 401 with the code ``not_authenticated``.
    """

    keyword = "Bearer"

    def authenticate(self, request):
        raw_key = self._raw_key(request)
        if raw_key is None:
            return None
        api_key = ApiKey.authenticate(raw_key)
        if api_key is None:
            raise exceptions.AuthenticationFailed(
                _("Invalid API key. Send a valid key as 'Authorization: Bearer <key>'."), code="invalid_api_key"
            )
        api_key.touch()
        return TenantPrincipal(api_key), api_key

    def authenticate_header(self, request):
        return self.keyword

    def _raw_key(self, request) -> str | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if header:
            scheme, _space, value = header.partition(" ")
            if scheme.lower() == self.keyword.lower() and value.strip():
                return value.strip()
            return ""
        value = request.META.get("HTTP_X_API_KEY", "").strip()
        return value or None


class HasTenant(permissions.BasePermission):
    message = _("Authentication required. Send your API key as 'Authorization: Bearer <key>'.")
    code = "not_authenticated"

    def has_permission(self, request, view):
        return isinstance(request.user, TenantPrincipal)
