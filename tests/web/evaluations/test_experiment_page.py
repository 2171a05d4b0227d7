"""The experiment page links to its evaluations: launch (evaluators), runs, and published results (everyone)."""

from __future__ import annotations

import pytest

from tests.web.conftest import login_mfa_verified
from tremplin.web.evaluations import services

pytestmark = pytest.mark.django_db


def test_evaluator_sees_launch_button_and_runs(client, run, evaluator):
    login_mfa_verified(client, evaluator)
    html = client.get(f"/experimentations/{run.plan.experiment.pk}/").content.decode()
    assert f"/evaluations/plan/{run.plan.pk}/lancer/" in html
    assert f"/evaluations/{run.pk}/" in html


def test_other_roles_get_no_launch_button(client, run, make_user):
    client.force_login(make_user("decision_maker"))
    html = client.get(f"/experimentations/{run.plan.experiment.pk}/").content.decode()
    assert "/lancer/" not in html


def test_published_results_are_linked_for_every_signed_in_user(client, run, evaluator, make_user):
    run.refresh_from_db()
    services.run_publish(run=run, user=evaluator)
    client.force_login(make_user("innovator"))
    html = client.get(f"/experimentations/{run.plan.experiment.pk}/").content.decode()
    assert 'data-testid="published-results"' in html
    assert f"/evaluations/publie/{run.pk}/" in html
