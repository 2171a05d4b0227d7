"""The API answers what its OpenAPI schema says, and never a server error (issue 12, item 14).

A bounded schemathesis run inside the suite: the schema served at /api/schema/, every operation, a few
generated requests each (5, derandomised, no shrinking phase), sent to a live test server on loopback as the
programme manager, a reviewer and an innovator (session cookies from force_login, so the run does not depend
on the API token model; a CSRF cookie and header for the writes). Checks: no 5xx, the status code and the
content type are documented, the body conforms to the documented schema. On main it failed at once: objects
typed as strings, the endorsements list documented as a page, 403/404 undocumented.
"""

from __future__ import annotations

import pytest

from tests.web.test_permission_matrix import World

schemathesis = pytest.importorskip("schemathesis")

PERSONAS = ("programme_manager", "reviewer", "innovator")
MAX_EXAMPLES = 5
CREDENTIALS = ("authorization", "cookie")
CSRF_TOKEN = "schemathesis0csrf0token000000000"  # 32 characters: a valid unmasked secret


def _checks():
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    return [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _session(client, user, settings):
    """A requests session carrying the user's session cookie (force_login) and a CSRF cookie and header."""
    import requests

    client.force_login(user)
    session = requests.Session()
    session.cookies.set(settings.SESSION_COOKIE_NAME, client.cookies[settings.SESSION_COOKIE_NAME].value)
    session.cookies.set(settings.CSRF_COOKIE_NAME, CSRF_TOKEN)
    session.headers["X-CSRFToken"] = CSRF_TOKEN
    return session


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("persona", PERSONAS)
def test_api_conforms_to_its_schema(persona, live_server, client, make_user, settings):
    from hypothesis import HealthCheck, Phase, given
    from hypothesis import settings as hypothesis_settings

    world = World(make_user)
    user = world.users[persona]
    client.force_login(user)
    raw = client.get("/api/schema/", {"format": "json"}).json()
    schema = schemathesis.openapi.from_dict(raw)
    session = _session(client, user, settings)
    checks = _checks()
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @hypothesis_settings(max_examples=MAX_EXAMPLES, derandomize=True, database=None, deadline=None,
                             phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def run(case):
            # The persona's session authenticates every request: drop the credentials schemathesis draws
            # from the documented security schemes (a random session cookie or token would replace it).
            case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() not in CREDENTIALS}
            case.cookies = {}
            response = case.call(base_url=live_server.url, session=session, timeout=30)
            case.validate_response(response, checks=checks)

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # one operation's failure must not hide the others'
            failures.append(f"{operation.label}: {type(exc).__name__}: {str(exc)[:1500]}")
    assert operations >= 25, f"only {operations} operations in the schema"
    assert not failures, f"{len(failures)} of {operations} operations as {persona}:\n\n" + "\n\n".join(failures)
