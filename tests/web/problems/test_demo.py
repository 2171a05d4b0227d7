"""The demo command loads realistic problems once (idempotent) on top of demo_setup."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from tremplin.web.problems import selectors
from tremplin.web.problems.models import Consultation, ConsultationResponse, Endorsement, Problem

pytestmark = pytest.mark.django_db


def test_demo_problems_is_idempotent(settings):
    settings.DEBUG = True
    call_command("demo_setup", stdout=io.StringIO())
    call_command("demo_problems", stdout=io.StringIO())
    counts = (Problem.objects.count(), Endorsement.objects.count(), ConsultationResponse.objects.count())
    assert counts[0] >= 12 and counts[1] >= 10 and counts[2] == 4
    call_command("demo_problems", stdout=io.StringIO())
    assert (Problem.objects.count(), Endorsement.objects.count(), ConsultationResponse.objects.count()) == counts
    assert all(e.organisation_id != e.problem.organisation_id for e in Endorsement.objects.select_related("problem"))
    duplicate = Problem.objects.get(title__startswith="Hospitalisations évitables d'insuffisants")
    similar = selectors.similar_problems(title=duplicate.title, description=duplicate.description,
                                         exclude_pk=duplicate.pk)
    assert similar[0].problem.title.startswith("Réhospitalisations évitables")
    assert Consultation.objects.get().questions.count() == 3

