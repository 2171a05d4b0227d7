"""Bulk updates of milestones and KPI actuals from CSV: validated entirely, all or nothing, located errors."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from tests.web.factories import ExperimentFactory
from tremplin.web.portfolio import services
from tremplin.web.portfolio.models import KpiValue, Milestone

pytestmark = pytest.mark.django_db

HEADER = "experiment_id,type,name,due_date,done_on,date,value\n"


@pytest.fixture
def setup(experiment, personas):
    services.milestone_add(experiment=experiment, name="Inclusions", due_date=date(2025, 5, 1))
    kpi = services.kpi_add(experiment=experiment, name="Patients inclus", target=100)
    return experiment, kpi, personas


def _snapshot():
    return (sorted(Milestone.objects.values_list("name", "due_date", "done_on")),
            sorted(KpiValue.objects.values_list("kpi_id", "date", "value")))


def test_good_file_updates_creates_and_records(setup):
    experiment, kpi, personas = setup
    content = (HEADER
               + f"{experiment.pk},milestone,Inclusions,,2025-05-10,,\n"
               + f"{experiment.pk},milestone,Rapport final,2026-01-31,,,\n"
               + f"{experiment.pk},kpi,Patients inclus,,,2025-05-31,42\n"
               + f"{experiment.pk},KPI,Patients inclus,,,2025-06-30,\"57,5\"\n")
    report = services.progress_import_csv(content=content.encode("utf-8-sig"), user=personas["lead_member"])
    assert report.ok, report.errors
    assert (report.created, report.updated) == (3, 1)
    assert Milestone.objects.get(name="Inclusions").done_on == date(2025, 5, 10)
    assert Milestone.objects.get(name="Rapport final").due_date == date(2026, 1, 31)
    assert list(kpi.values.values_list("date", "value")) == [(date(2025, 5, 31), Decimal("42")),
                                                             (date(2025, 6, 30), Decimal("57.5"))]
    # Re-importing a KPI actual replaces it.
    report = services.progress_import_csv(content=HEADER + f"{experiment.pk},kpi,Patients inclus,,,2025-05-31,40\n",
                                          user=personas["lead_member"])
    assert report.ok and report.updated == 1
    assert kpi.values.get(date=date(2025, 5, 31)).value == Decimal("40")


BAD_ROWS = [
    ("{pk},milestone,Inclusions,,2025-13-01,,", "done_on"),
    ("{pk},milestone,Inconnu,,,,", "name"),
    ("{pk},milestone,Inclusions,,,,", "done_on"),
    ("{pk},kpi,Patients inclus,,,31/05/2025,4", "date"),
    ("{pk},kpi,Patients inclus,,,2025-05-31,beaucoup", "value"),
    ("{pk},kpi,Indicateur inconnu,,,2025-05-31,4", "name"),
    ("{pk},jalon,Inclusions,,2025-05-10,,", "type"),
    ("abc,milestone,Inclusions,,2025-05-10,,", "experiment_id"),
    ("999999,milestone,Inclusions,,2025-05-10,,", "experiment_id"),
    ("{other},milestone,Inclusions,2025-01-01,,,", "experiment_id"),  # not allowed for this user
    ("{pk},kpi,Patients inclus,,,2025-05-31,4,extra", "*"),
    ("{pk},kpi,,,,2025-05-31,4", "name"),
]


@pytest.mark.parametrize(("row", "column"), BAD_ROWS)
def test_each_bad_row_is_located_and_nothing_is_written(setup, row, column):
    experiment, _kpi, personas = setup
    other = ExperimentFactory()
    good = f"{experiment.pk},kpi,Patients inclus,,,2025-04-30,10\n"
    content = HEADER + good + row.format(pk=experiment.pk, other=other.pk) + "\n" + good.replace("04-30", "03-31")
    before = _snapshot()
    report = services.progress_import_csv(content=content, user=personas["lead_member"])
    assert not report.ok
    assert [(e.line, e.column) for e in report.errors] == [(3, column)], report.errors
    assert _snapshot() == before


def test_duplicate_line_and_missing_columns(setup):
    experiment, _kpi, personas = setup
    row = f"{experiment.pk},kpi,Patients inclus,,,2025-04-30,10\n"
    report = services.progress_import_csv(content=HEADER + row + row, user=personas["manager"])
    assert [(e.line, e.column) for e in report.errors] == [(3, "*")]
    report = services.progress_import_csv(content="experiment_id,name\n1,x\n", user=personas["manager"])
    assert report.errors[0].line == 1 and "type" in report.errors[0].column
    report = services.progress_import_csv(content=HEADER, user=personas["manager"])
    assert not report.ok
    report = services.progress_import_csv(content=b"\xff\xfe\x00bad", user=personas["manager"])
    assert not report.ok
    assert KpiValue.objects.count() == 0


def test_outsider_cannot_update_but_manager_can(setup):
    experiment, _kpi, personas = setup
    content = HEADER + f"{experiment.pk},milestone,Inclusions,,2025-05-10,,\n"
    report = services.progress_import_csv(content=content, user=personas["outsider"])
    assert [(e.line, e.column) for e in report.errors] == [(2, "experiment_id")]
    assert services.progress_import_csv(content=content, user=personas["manager"]).ok
