"""After a hostile write attempt: read the lists and the API back as every role (issue 12, items 6, 7, 13).

The routes are those of the URL conf (the permission matrix discovers them): every GET list route of the
given namespaces and every list endpoint of the API, each expected to answer what its access declaration
says for the role (200 where the role may read it), never a server error. Detail URLs of the object the
attack wrote to are read too; every signed-in role must get them with a 200.
"""

from __future__ import annotations

from tests.web.conftest import login_mfa_verified
from tests.web.test_permission_matrix import ROUTES, _url, declaration
from tremplin.web.core.access import ROLES

HOSTILE_DECIMALS = ("123456789012345", "1e30", "1E+999999", "-1E+999999", "Infinity", "NaN", "0.001")
HOSTILE_INTEGERS = ("99999999999999999999", "-99999999999999999999", "2147483648", "-1")
LONG_TEXT = "x" * 5000
NUL_TEXT = "avant\x00après"


def list_routes(namespaces: tuple[str, ...]):
    """GET routes without URL parameters of these namespaces, plus the API's list endpoints."""
    for route in ROUTES:
        expect = declaration(route)
        if route.kwarg_names or expect is None or expect.methods != ("GET",):
            continue
        if route.name.startswith(namespaces) or (route.name.startswith("v1:") and route.name.endswith("-list")):
            yield route, expect


def users_by_role(make_user) -> dict[str, object]:
    return {role: make_user(role) for role in ROLES}


def read_back(client, users: dict, *, namespaces: tuple[str, ...], detail_urls: tuple[str, ...] = ()) -> list[str]:
    """Every mismatch (status other than declared, for each role), as readable lines; [] when all is well."""
    routes = list(list_routes(namespaces))
    assert routes, f"no list route found for {namespaces}"
    problems = []
    for role, user in users.items():
        login_mfa_verified(client, user)  # admins and evaluators: a session that proved its second factor
        for route, expect in routes:
            url = _url(route, {})
            status = client.get(url).status_code
            if status != expect.status_for(role):
                problems.append(f"{role}: GET {url} -> {status}, declared {expect.status_for(role)}")
        for url in detail_urls:
            status = client.get(url).status_code
            if status != 200:
                problems.append(f"{role}: GET {url} -> {status}, expected 200")
    client.logout()
    return problems
