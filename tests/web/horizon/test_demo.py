"""`manage.py demo_setup` loads horizon scanning: signals in every domain and horizon, half public, linked to the
demo problems, a panel of three with a disagreement, two reviews overdue; idempotent."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.test import override_settings

from tremplin.web.horizon import selectors
from tremplin.web.horizon.models import Horizon, PanelMember, Signal, SignalDomain, SignalScore

pytestmark = pytest.mark.django_db


def _run(*commands) -> None:
    with override_settings(DEBUG=True):
        for command in commands:
            call_command(command, stdout=io.StringIO())


def test_demo_horizon_content_and_idempotence():
    _run("demo_setup")
    signals = Signal.objects.all()
    assert set(signals.values_list("domain", flat=True)) == set(SignalDomain.values)
    assert set(signals.values_list("horizon", flat=True)) == set(Horizon.values)
    assert signals.filter(is_public=True).exists() and signals.filter(is_public=False).exists()
    assert signals.filter(problems__isnull=False).distinct().count() >= 6
    assert PanelMember.objects.count() == 3
    aggregates = selectors.panel_aggregates()
    assert any(a.disagreement for a in aggregates.values())
    assert len(selectors.signals_due_for_review()) == 2
    before = (Signal.objects.count(), PanelMember.objects.count(), SignalScore.objects.count())
    _run("demo_horizon")
    assert (Signal.objects.count(), PanelMember.objects.count(), SignalScore.objects.count()) == before
