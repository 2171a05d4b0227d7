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


# --- issue 12, item 14: the schema says what the responses are -------------------------------------------------


def _resolve(schema, node):
    """Follow $ref (and a lone allOf / oneOf wrapper spectacular puts around nullable references)."""
    while True:
        if "$ref" in node:  # the keys beside the reference (nullable, readOnly) are kept
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            node = {**schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]], **siblings}
        elif len(node.get("allOf", [])) == 1:
            node = {**node, **node["allOf"][0]}
            node.pop("allOf")
        else:
            return node


def _property(schema, component, name):
    return _resolve(schema, schema["components"]["schemas"][component]["properties"][name])


@pytest.mark.parametrize(("component", "name", "kind", "nullable"), [
    ("Proposal", "organisation", "object", True), ("Proposal", "partners", "array", True),
    ("Proposal", "attachments", "array", False), ("Proposal", "decision", "object", True),
    ("Proposal", "budget_lines", "array", False), ("Experiment", "partners", "array", False),
    ("Experiment", "lead_organisation", "object", False), ("Experiment", "details", "object", True),
])
def test_embedded_objects_are_typed_as_what_they_are(schema, component, name, kind, nullable):
    prop = _property(schema, component, name)
    assert prop.get("type") == kind, prop
    assert bool(prop.get("nullable")) == nullable, prop
    if kind == "object":
        assert prop.get("properties"), prop  # a described object, not an anonymous one


def test_organisation_objects_name_their_fields(schema):
    organisation = _property(schema, "Experiment", "lead_organisation")
    assert set(organisation["properties"]) == {"id", "name", "sector"}
    details = _property(schema, "Experiment", "details")
    assert {"milestones", "kpis", "evaluation_plan", "alert", "committed", "spent"} <= set(details["properties"])


def test_endorsements_are_documented_as_the_list_they_are(schema):
    get = schema["paths"]["/api/v1/problems/{id}/endorse/"]["get"]
    body = _resolve(schema, get["responses"]["200"]["content"]["application/json"]["schema"])
    assert body["type"] == "array"  # not a paginated object
    post = schema["paths"]["/api/v1/problems/{id}/endorse/"]["post"]
    assert "201" in post["responses"]


def test_errors_are_documented_on_every_operation(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            assert {"403", "404"} <= set(responses), (method, path)
            if method != "get":
                assert "400" in responses, (method, path)
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["detail"]
    assert all(p["schema"]["type"] == "integer" for item in schema["paths"].values() for op in item.values()
               for p in op.get("parameters", []) if p["in"] == "path")


@pytest.mark.parametrize(("path", "name"), [("/api/v1/proposals/", "call"), ("/api/v1/experiments/", "stage"),
                                            ("/api/v1/problems/", "status")])
def test_filters_are_documented(schema, path, name):
    operation = schema["paths"][path]["get"]
    assert name in {p["name"] for p in operation["parameters"] if p["in"] == "query"}
    assert "400" in operation["responses"]


def test_endorse_answers_a_list_and_bad_filters_a_400(client, make_user):
    from tests.web.factories import EndorsementFactory, ProblemFactory

    problem = ProblemFactory()
    EndorsementFactory(problem=problem)
    client.force_login(make_user("programme_manager"))
    body = client.get(f"/api/v1/problems/{problem.pk}/endorse/").json()
    assert isinstance(body, list) and len(body) == 1
    for path, name, value in (("/api/v1/proposals/", "call", "99999999999999999999999"),
                              ("/api/v1/experiments/", "stage", "9"), ("/api/v1/problems/", "status", "nope")):
        response = client.get(path, {name: value})
        assert response.status_code == 400 and name in response.json(), (path, response.content)
