"""The OpenAPI schema says what the API answers, errors included (issue 12, item 14).

- `OrganisationBriefSerializer`: the {id, name, sector} object several serializers embed.
- `postprocess_errors`, a drf-spectacular post-processing hook: every operation documents its error
  responses with one shape per kind: 403 and 404 `{"detail": "..."}` (DRF answers 403, not 401, to a request
  without credentials, session authentication coming first); 400 the field → messages object of a DRF
  validation error, on every operation that takes a body or query filters, and on deletions (a protected
  object). Path ids are integers (the routers' `[^/.]+` gives spectacular no type).
"""

from __future__ import annotations

from rest_framework import serializers

from tremplin.web.accounts.models import Sector

WRITE_METHODS = ("post", "put", "patch", "delete")
PAGINATION_PARAMETERS = {"page"}

ERROR_SCHEMA = {
    "type": "object",
    "description": "An error that is not about one field (not signed in, not allowed, not found).",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
VALIDATION_ERROR_SCHEMA = {
    "type": "object",
    "description": ("Invalid input: each field (or query parameter) in error → its messages, nested like the "
                    "field; `detail` or `non_field_errors` for errors about no single field."),
    "additionalProperties": {},
}


class OrganisationBriefSerializer(serializers.Serializer):
    """An organisation as other objects show it."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    sector = serializers.ChoiceField(choices=Sector.choices)


def _response(component: str, description: str) -> dict:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{component}"}}}}


def postprocess_errors(result: dict, generator, request, public) -> dict:
    """Add the error responses (and integer path ids) to every operation of the schema."""
    result.setdefault("components", {}).setdefault("schemas", {})
    result["components"]["schemas"]["Error"] = ERROR_SCHEMA
    result["components"]["schemas"]["ValidationError"] = VALIDATION_ERROR_SCHEMA
    for item in result.get("paths", {}).values():
        for method, operation in item.items():
            if method not in ("get", *WRITE_METHODS):
                continue
            parameters = operation.get("parameters", [])
            for parameter in parameters:
                if parameter.get("in") == "path" and parameter.get("name") == "id":
                    parameter["schema"] = {"type": "integer"}
            responses = operation.setdefault("responses", {})
            responses.setdefault("403", _response("Error", "Not signed in, or not allowed to do this."))
            responses.setdefault("404", _response("Error", "Not found, not visible to you, or no such page."))
            filters = [p for p in parameters if p.get("in") == "query" and p.get("name") not in PAGINATION_PARAMETERS]
            if method in WRITE_METHODS or filters:
                responses.setdefault("400", _response("ValidationError", "Invalid input."))
    return result
