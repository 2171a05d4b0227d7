"""Reviewer assignment import: hostile cells refused with a located error, nothing written (issue 12, item 13)."""

from __future__ import annotations

import pytest

from tests.web.readback import HOSTILE_INTEGERS, LONG_TEXT, NUL_TEXT
from tremplin.web.calls import services
from tremplin.web.calls.models import Assignment

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("cells", "column"), [
    *[((value, "{email}"), "proposal_id") for value in (*HOSTILE_INTEGERS, "1e3", "abc")],
    (("{pk}", f"{NUL_TEXT}@example.org"), "reviewer_email"), ((f"1{NUL_TEXT}", "{email}"), "proposal_id"),
])
def test_hostile_cells_are_located_and_nothing_is_written(scenario, client, cells, column):
    proposal = scenario.propose()
    good = f"{proposal.pk},{scenario.reviewers[0].email}"
    bad = ",".join(cells).format(pk=proposal.pk, email=scenario.reviewers[1].email)
    report = services.assignments_import_csv(call=scenario.call,
                                             content=f"proposal_id,reviewer_email\n{good}\n{bad}\n".encode())
    assert [(e.line, e.column) for e in report.errors] == [(3, column)], [str(e) for e in report.errors]
    assert not Assignment.objects.exists()
    client.force_login(scenario.manager)
    assert client.get(f"/appels/{scenario.call.pk}/affectations/").status_code == 200


@pytest.mark.parametrize(("field", "value"), [
    ("amount", "1e30"), ("amount", "1E+999999"), ("amount", "NaN"), ("title", LONG_TEXT), ("title", NUL_TEXT)])
def test_proposal_api_refuses_what_the_columns_cannot_hold(client, scenario, make_user, field, value):
    """Item 6 on the calls API: a hostile value is a 400 naming the field, nothing is stored, and the lists and
    the API read back for every role."""
    from tests.web.calls.test_api import _payload
    from tests.web.readback import read_back, users_by_role
    from tremplin.web.calls.models import Proposal

    before = Proposal.objects.count()
    client.force_login(scenario.innovator)
    payload = _payload(scenario, budget_lines=[{"label": "Poste", "amount": value}]) if field == "amount" else {
        **_payload(scenario), field: value}
    response = client.post("/api/v1/proposals/", payload, content_type="application/json")
    assert response.status_code == 400, response.content
    assert (field if field != "amount" else "budget_lines") in response.json()
    assert Proposal.objects.count() == before
    assert read_back(client, users_by_role(make_user), namespaces=("calls:",)) == []
