"""OpenAPI schema and documentation pages."""

from __future__ import annotations

import pytest
import yaml

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(client, make_user):
    client.force_login(make_user("innovator"))
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def test_schema_is_valid_openapi_3(schema):
    from drf_spectacular.validation import validate_schema

    assert schema["openapi"].startswith("3.")
    validate_schema(schema)  # raises on an invalid document (JSON schema of OpenAPI 3)


def test_schema_lists_the_v1_endpoints(schema):
    paths = set(schema["paths"])
    for path in ["/api/v1/organisations/", "/api/v1/organisations/{id}/", "/api/v1/territories/",
                 "/api/v1/territories/{id}/", "/api/v1/memberships/", "/api/v1/memberships/{id}/",
                 "/api/v1/jobs/", "/api/v1/jobs/{id}/"]:
        assert path in paths, path
    assert "delete" not in schema["paths"]["/api/v1/organisations/{id}/"]
    assert "tokenAuth" in schema["components"]["securitySchemes"]


def test_schema_yaml_default(client, make_user):
    client.force_login(make_user("innovator"))
    document = yaml.safe_load(client.get("/api/schema/").content)
    assert document["info"]["title"] == "Tremplin API"


def test_schema_and_docs_need_a_signed_in_user(client, make_user):
    assert client.get("/api/schema/").status_code == 403
    assert client.get("/api/docs/").status_code == 403
    client.force_login(make_user("innovator"))
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html.lower()
    assert "cdn.jsdelivr" not in html and "unpkg.com" not in html  # assets are vendored (sidecar)
