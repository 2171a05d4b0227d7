"""API /api/v1/problems/: same permissions as the pages."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.web.factories import EndorsementFactory, ProblemFactory
from tremplin.web.problems.models import Endorsement, Problem

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return APIClient()


def test_list_and_retrieve(api, personas, django_assert_max_num_queries):
    for _ in range(10):
        EndorsementFactory(problem=ProblemFactory())
    assert api.get("/api/v1/problems/").status_code == 403
    api.force_authenticate(personas.outsider)
    with django_assert_max_num_queries(8):
        response = api.get("/api/v1/problems/")
    assert response.status_code == 200 and response.data["count"] == 11
    detail = api.get(f"/api/v1/problems/{personas.problem.pk}/").data
    assert detail["title"] == personas.problem.title and detail["endorsement_count"] == 0
    assert detail["territory_codes"] == [personas.problem.territories.get().code]


def test_create_for_own_organisation_only(api, personas):
    payload = {"title": "Imagerie redondante", "description": "Examens répétés entre ville et hôpital.",
               "domain": "imaging", "organisation": personas.reporting_org.pk, "status": "addressed"}
    api.force_authenticate(personas.outsider)
    assert api.post("/api/v1/problems/", payload, format="json").status_code == 403
    api.force_authenticate(personas.other_member)
    response = api.post("/api/v1/problems/", payload, format="json")
    assert response.status_code == 400 and "organisation" in response.data
    api.force_authenticate(personas.reporter)
    response = api.post("/api/v1/problems/", payload, format="json")
    assert response.status_code == 201, response.data
    created = Problem.objects.get(pk=response.data["id"])
    assert created.status == "new"  # read-only through the API
    assert created.created_by == personas.reporter


def test_endorse_action(api, personas):
    url = f"/api/v1/problems/{personas.problem.pk}/endorse/"
    api.force_authenticate(personas.reporter)
    response = api.post(url, {"organisation": personas.reporting_org.pk, "comment": "x"}, format="json")
    assert response.status_code == 403
    api.force_authenticate(personas.other_member)
    response = api.post(url, {"organisation": personas.other_org.pk, "comment": "Même constat"}, format="json")
    assert response.status_code == 201, response.data
    again = api.post(url, {"organisation": personas.other_org.pk, "comment": "Encore"}, format="json")
    assert again.status_code == 400
    assert Endorsement.objects.count() == 1
    listed = api.get(url)
    assert listed.status_code == 200 and [e["organisation_name"] for e in listed.data] == [personas.other_org.name]


def test_create_refuses_script_links(api, personas):
    api.force_authenticate(personas.reporter)
    payload = {"title": "T", "description": "D", "domain": "other", "organisation": personas.reporting_org.pk,
               "evidence_links": "https://example.org\njavascript:alert(1)"}
    response = api.post("/api/v1/problems/", payload, format="json")
    assert response.status_code == 400 and "evidence_links" in response.data
    assert "Ligne 2" in str(response.data["evidence_links"])
