"""Horizon-scanning fixtures: personas (a manager who stewards, a panel of three, readers, outsiders) and signals."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import count

import pytest

from tests.web.factories import ProblemFactory
from tremplin.web.horizon import services
from tremplin.web.horizon.models import Signal

_titles = count(1)


def make_signal(*, by, **fields) -> Signal:
    values = {"title": f"Signal {next(_titles)}", "summary": "Une innovation à surveiller.", "domain": "ai",
              "horizon": "short", "likelihood": 3}
    values.update(fields)
    return services.signal_create(created_by=by, **values)


@dataclass
class Personas:
    manager: object
    other_manager: object
    decider: object
    reviewer: object
    evaluator: object
    member: object
    innovator: object
    panel: list


@pytest.fixture
def personas(make_user) -> Personas:
    p = Personas(manager=make_user("programme_manager"), other_manager=make_user("programme_manager"),
                 decider=make_user("decision_maker"), reviewer=make_user("reviewer"), evaluator=make_user("evaluator"),
                 member=make_user("network_member"), innovator=make_user("innovator"),
                 panel=[make_user("reviewer"), make_user("reviewer"), make_user("decision_maker")])
    for user in p.panel:
        services.panel_member_add(user=user, by=p.manager)
    return p


@pytest.fixture
def problem(db):
    return ProblemFactory(title="Dépistage insuffisant de la rétinopathie diabétique", status="qualified")
