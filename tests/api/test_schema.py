"""The OpenAPI schema and the Swagger UI page, both served without an API key."""

import pytest
import yaml
from django.contrib.staticfiles import finders

ENDPOINTS = {
    "/api/v1/items/": "post",
    "/api/v1/users/": "post",
    "/api/v1/events/": "post",
    "/api/v1/users/{user_id}/recommendations/": "get",
    "/api/v1/items/{item_id}/similar/": "get",
    "/api/v1/search/": "get",
    "/api/v1/runs/": "post",
    "/api/v1/runs/{run_id}/": "get",
}


@pytest.fixture
def schema(anonymous_client) -> dict:
    response = anonymous_client.get("/api/v1/schema/", {"format": "json"})
    assert response.status_code == 200, response.content
    return response.json()


def test_schema_is_openapi_3(schema):
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "semrec API"


def test_schema_default_format_yaml(anonymous_client):
    response = anonymous_client.get("/api/v1/schema/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    assert yaml.safe_load(response.content)["openapi"].startswith("3.")


@pytest.mark.parametrize(("path", "method"), ENDPOINTS.items())
def test_schema_lists_endpoint(schema, path, method):
    assert path in schema["paths"]
    assert method in schema["paths"][path]


def test_schema_lists_only_api(schema):
    assert set(schema["paths"]) == set(ENDPOINTS)


@pytest.mark.parametrize(("path", "method"), ENDPOINTS.items())
def test_schema_requires_api_key(schema, path, method):
    security = schema["paths"][path][method]["security"]

    assert {"bearerAuth": []} in security
    assert {"apiKeyHeader": []} in security
    assert {} not in security


def test_schema_declares_key_schemes(schema):
    schemes = schema["components"]["securitySchemes"]

    assert schemes["bearerAuth"]["type"] == "http"
    assert schemes["bearerAuth"]["scheme"] == "bearer"
    assert schemes["apiKeyHeader"]["type"] == "apiKey"
    assert schemes["apiKeyHeader"]["in"] == "header"
    assert schemes["apiKeyHeader"]["name"] == "X-Api-Key"


@pytest.mark.parametrize("path", ["/api/v1/items/", "/api/v1/users/", "/api/v1/events/"])
def test_schema_batch_body_is_json_array(schema, path):
    content = schema["paths"][path]["post"]["requestBody"]["content"]

    assert set(content) == {"application/json"}
    assert content["application/json"]["schema"]["type"] == "array"


def test_schema_recommendation_parameters(schema):
    parameters = schema["paths"]["/api/v1/users/{user_id}/recommendations/"]["get"]["parameters"]

    assert {parameter["name"] for parameter in parameters} == {"user_id", "n", "exclude_seen", "explain", "strategy", "q"}


def test_schema_search_parameters(schema):
    parameters = {parameter["name"]: parameter for parameter in schema["paths"]["/api/v1/search/"]["get"]["parameters"]}

    assert set(parameters) == {"q", "user", "n", "exclude_seen", "explain", "strategy"}
    assert parameters["q"]["required"] is True
    assert parameters["q"]["schema"]["maxLength"] == 500


def test_schema_recommendation_response(schema):
    response = schema["components"]["schemas"]["RecommendationResponse"]

    assert set(response["properties"]) == {"recommendation_id", "strategy", "fell_back", "notes", "items", "intent"}


def test_docs_page_is_html(anonymous_client):
    response = anonymous_client.get("/api/v1/docs/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b"swagger-ui" in response.content
    assert b"/api/v1/schema/" in response.content


def test_docs_assets_ship_offline(anonymous_client):
    """Swagger UI comes from the sidecar package's static files, not from a CDN."""
    page = anonymous_client.get("/api/v1/docs/").content.decode()

    assert 'src="/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"' in page
    assert "https://" not in page
    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js") is not None


def test_unknown_api_path_is_json_404(anonymous_client):
    response = anonymous_client.get("/api/v1/no/such/endpoint")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert "/api/v1/no/such/endpoint" in response.json()["error"]["message"]
