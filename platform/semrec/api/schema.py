"""OpenAPI descriptions that drf-spectacular cannot infer from the code."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """Declares the two ways ApiKeyAuthentication reads a key, so Swagger UI can send one."""

    target_class = "semrec.tenants.authentication.ApiKeyAuthentication"
    name = ["bearerAuth", "apiKeyHeader"]

    def get_security_requirement(self, auto_schema):
        # Either header authenticates, so each is a requirement of its own.
        return [{"bearerAuth": []}, {"apiKeyHeader": []}]

    def get_security_definition(self, auto_schema):
        return [
            {"type": "http", "scheme": "bearer", "description": "The tenant's API key as 'Authorization: Bearer <key>'."},
            {"type": "apiKey", "in": "header", "name": "X-Api-Key", "description": "The tenant's API key."},
        ]
