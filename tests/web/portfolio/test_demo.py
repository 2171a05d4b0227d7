"""`manage.py demo_portfolio`: ~15 experiments over the five stages, an alert, article 51 deadlines; idempotent."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.test import override_settings

from tremplin.web.portfolio import selectors
from tremplin.web.portfolio.models import Deadline, Experiment, GateReview, KpiValue, Milestone

pytestmark = pytest.mark.django_db


def _counts():
    return {m.__name__: m.objects.count() for m in (Experiment, GateReview, Milestone, KpiValue, Deadline)}


def test_demo_portfolio_content_and_idempotence():
    from tremplin.web.core.management.commands.demo_setup import Command as DemoSetup

    with override_settings(DEBUG=True):
        DemoSetup()._load()  # organisations, territories, users (without the other apps' demos)
        call_command("demo_portfolio", stdout=io.StringIO())
        first = _counts()
        call_command("demo_portfolio", stdout=io.StringIO())
    assert _counts() == first
    experiments = list(Experiment.objects.select_related("evaluation_plan"))
    assert 12 <= len(experiments) <= 18
    assert {e.stage for e in experiments} == {1, 2, 3, 4, 5}
    alerts = {e.title: selectors.evaluation_alert(e) for e in experiments}
    flagged = [(title, a) for title, a in alerts.items() if a is not None]
    assert flagged and any(a.months_short and a.months_short > 0 for _t, a in flagged)
    article51 = Experiment.objects.get(title__startswith="Télésurveillance de l'insuffisance cardiaque : ")
    assert article51.legal_framework == "article_51" and alerts[article51.title].months_short == 6
    dates = dict(selectors.resolved_deadlines(experiment=article51))
    assert any(d.relative_to_id and d.relative_to.relative_to_id for d in dates)  # a deadline of a deadline
    assert selectors.next_deadline(experiment=article51) is not None
    assert selectors.late_milestones().exists()
    assert Experiment.objects.filter(status="stopped").exists()
    assert GateReview.objects.filter(decision="adapt").exists()
