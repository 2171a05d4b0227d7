"""Hostile query strings on every list route (issue 12, item 11).

`GET /problematiques/?territory=99999999999999999999` and `GET /api/v1/proposals/?call=99999999999999999999999`
were 500s (OverflowError from SQLite's driver). This test does not keep a list of routes nor of parameters:
the routes come from the URL conf (as the permission matrix finds them, URL parameters filled from its World),
and the parameters each view reads are recorded while it answers a first request (a middleware swaps
`request.GET` for a QueryDict that notes every name looked up). Each recorded parameter is then sent huge,
negative, non-numeric, non-finite, with a NUL byte and with full-text syntax, by a persona allowed to read the
page: never a server error, and an API 400 names the parameter.
"""

from __future__ import annotations

import pytest
from django.http import QueryDict

from tests.web.conftest import login_mfa_verified
from tests.web.test_permission_matrix import ROUTES, World, _url, declaration
from tremplin.web.core.access import ROLES

pytestmark = pytest.mark.django_db

HOSTILE_VALUES = ("99999999999999999999999", "-1", "-99999999999999999999", "0", "abc", "1e999", "nan",
                  "1.5", "\x00", '"', "NEAR(", "x" * 3000)
PROBE = "__probe__"
SKIPPED = ("admin:", "account_", "mfa_", "set_language")  # third-party pages (allauth, admin, i18n)
RECORDED: set[str] = set()


class RecordingQueryDict(QueryDict):
    """A QueryDict noting every parameter name a view looks up."""

    def __getitem__(self, key):
        RECORDED.add(key)
        return super().__getitem__(key)

    def getlist(self, key, default=None):
        RECORDED.add(key)
        return super().getlist(key, default)

    def __contains__(self, key):
        RECORDED.add(key)
        return super().__contains__(key)


def record_query_names(get_response):
    def middleware(request):
        request.GET = RecordingQueryDict(request.META.get("QUERY_STRING", ""))
        return get_response(request)

    return middleware


def _routes():
    for route in ROUTES:
        expect = declaration(route)
        if route.name.startswith(SKIPPED) or expect is None or expect.methods != ("GET",):
            continue
        if "format" in route.kwarg_names:  # DRF's format-suffix twins of the same views
            continue
        yield route


ROUTES_READ = list(_routes())


def test_the_routes_are_discovered():
    names = {r.name for r in ROUTES_READ}
    assert {"problems:problem-list", "v1:proposal-list", "v1:experiment-list", "portfolio:portfolio",
            "calls:call-ranking"} <= names
    assert len(ROUTES_READ) > 40


def _reader(route, expect) -> str | None:
    """A role allowed to read the page (200), the manager first, else "anonymous"; None when nobody is."""
    for role in ("programme_manager", *ROLES):
        if expect.status_for(role) == 200:
            return role
    return "anonymous" if expect.status_for(None) == 200 else None


@pytest.mark.parametrize("route", ROUTES_READ, ids=[r.id for r in ROUTES_READ])
def test_hostile_filter_values_never_give_a_server_error(route, client, make_user, settings):
    expect = declaration(route)
    role = _reader(route, expect)
    if role is None:
        pytest.skip(f"no role reads {route.id} with a 200")
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "tests.web.core.test_query_filters.record_query_names"]
    world = World(make_user)
    kwargs = world.kwargs(route, expect.sample)
    assert kwargs is not None, f"{route.id}: no sample to fill {route.kwarg_names}"
    url = _url(route, kwargs)
    if role != "anonymous":
        login_mfa_verified(client, world.users[role])
    client.raise_request_exception = False  # a server error is a status to report, not an exception
    RECORDED.clear()
    assert client.get(url, {PROBE: "1"}).status_code == 200
    names = sorted(RECORDED - {PROBE})
    failures = []
    for name in names:
        for value in HOSTILE_VALUES:
            response = client.get(url, {name: value})
            if response.status_code >= 500:
                failures.append(f"{name}={value[:30]!r}: {response.status_code}")
            elif response.status_code == 400 and url.startswith("/api/"):
                body = response.json()
                if name not in body:
                    failures.append(f"{name}={value[:30]!r}: 400 without naming the parameter: {body}")
    assert not failures, f"{url} (parameters read: {names})\n" + "\n".join(failures)


def test_the_recorder_sees_the_filters_of_the_two_reported_routes(client, make_user, settings):
    """The probe finds what the reported attacks used (a recorder that saw nothing would prove nothing)."""
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "tests.web.core.test_query_filters.record_query_names"]
    client.force_login(make_user("programme_manager"))
    for url, name in (("/problematiques/", "territory"), ("/api/v1/proposals/", "call")):
        RECORDED.clear()
        assert client.get(url, {PROBE: "1"}).status_code == 200
        assert name in RECORDED, (url, RECORDED)
