"""Query-string filters, validated before they reach the database (issue 12, item 11).

A filter value comes from whoever typed the URL: an id of 25 digits, a negative number, a word, a NUL byte.
Handed to the ORM as they are, the first overflows SQLite's driver (OverflowError) and the last is refused by
PostgreSQL's; both were 500s. Pages read their filters through the helpers below: a value they cannot use is
ignored (the list is shown unfiltered by it, as when the parameter is absent). The API validates its filters
with a serializer (`api_filters`), so that a bad value is a 400 naming the parameter, and the same
serializer documents the parameters in the OpenAPI schema.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from tremplin.web.core.validation import MAX_ID, has_nul, parse_id

__all__ = ["MAX_ID", "api_filters", "query_choice", "query_float", "query_id", "query_text"]


def _raw(params: Mapping[str, str], name: str) -> str:
    value = params.get(name)
    return value if isinstance(value, str) else ""


def query_id(params: Mapping[str, str], name: str) -> int | None:
    """A primary key (1 to MAX_ID), else None."""
    return parse_id(_raw(params, name))


def query_text(params: Mapping[str, str], name: str, *, max_length: int = 200) -> str:
    """Free text, stripped and cut to `max_length`; "" when it holds a NUL character."""
    value = _raw(params, name)
    return "" if has_nul(value) else value.strip()[:max_length]


def query_choice(params: Mapping[str, str], name: str, choices: Iterable[str]) -> str:
    """One of `choices`, else ""."""
    value = _raw(params, name)
    return value if value in set(choices) else ""


def query_float(params: Mapping[str, str], name: str, *, default: float, minimum: float, maximum: float) -> float:
    """A finite number (a decimal comma is accepted) clamped to [minimum, maximum], else `default`."""
    try:
        value = float(_raw(params, name).replace(",", ".")[:50])
    except ValueError:
        return default
    if not math.isfinite(value):
        return default
    return min(maximum, max(minimum, value))


def api_filters(request, serializer_class) -> dict:
    """The API's query-string filters validated by `serializer_class` (absent ones are left out); a bad value
    raises DRF's ValidationError, answered as a 400 naming the parameter."""
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return {k: v for k, v in serializer.validated_data.items() if v not in (None, "")}
