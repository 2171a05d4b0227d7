"""Reviewer assignment import: hostile cells refused with a located error, nothing written (issue 12, item 13)."""

from __future__ import annotations

import pytest

from tests.web.readback import HOSTILE_INTEGERS, NUL_TEXT
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
