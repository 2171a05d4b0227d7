"""Values the columns cannot hold, sent through every write of the portfolio (issue 12, items 6 and 13).

Each attack is refused with a located error, nothing is stored, and afterwards the portfolio's lists, the API
and the experiment's own pages read back for every role. On main, `1e30` as a KPI actual was accepted by the
CSV import and every read of the experiment failed (decimal.InvalidOperation), for every role.
"""

from __future__ import annotations

from datetime import date

import pytest

from tests.web.readback import HOSTILE_DECIMALS, LONG_TEXT, NUL_TEXT, read_back, users_by_role
from tremplin.web.portfolio import services
from tremplin.web.portfolio.models import BudgetLine, Deadline, GateCriterion, Kpi, KpiValue, Milestone

pytestmark = pytest.mark.django_db

HEADER = "experiment_id,type,name,due_date,done_on,date,value\n"


@pytest.fixture
def world(experiment, make_user, client):
    services.milestone_add(experiment=experiment, name="Inclusions", due_date=date(2025, 5, 1))
    kpi = services.kpi_add(experiment=experiment, name="Patients inclus", target=100)
    users = users_by_role(make_user)
    details = (f"/experimentations/{experiment.pk}/", f"/api/v1/experiments/{experiment.pk}/")

    def reads_back() -> list[str]:
        return read_back(client, users, namespaces=("portfolio:",), detail_urls=details)

    return experiment, kpi, users, reads_back


def _stored():
    return (sorted(Milestone.objects.values_list("name", flat=True)), KpiValue.objects.count(),
            sorted(Kpi.objects.values_list("name", flat=True)))


@pytest.mark.parametrize("value", HOSTILE_DECIMALS)
def test_kpi_actual_the_column_cannot_hold_is_refused_by_the_csv_import(world, value):
    experiment, _kpi, users, reads_back = world
    before = _stored()
    content = HEADER + f"{experiment.pk},kpi,Patients inclus,,,2025-05-31,{value}\n"
    report = services.progress_import_csv(content=content, user=users["programme_manager"])
    assert not report.ok
    assert [(e.line, e.column) for e in report.errors] == [(2, "value")], report.errors
    assert _stored() == before
    assert reads_back() == []


def test_one_bad_value_and_nothing_of_the_file_is_written(world):
    experiment, _kpi, users, reads_back = world
    content = (HEADER + f"{experiment.pk},kpi,Patients inclus,,,2025-05-31,42\n"
               + f"{experiment.pk},milestone,Rapport,2026-01-31,,,\n"
               + f"{experiment.pk},kpi,Patients inclus,,,2025-06-30,1e30\n")
    before = _stored()
    report = services.progress_import_csv(content=content, user=users["programme_manager"])
    assert [(e.line, e.column) for e in report.errors] == [(4, "value")]
    assert _stored() == before


@pytest.mark.parametrize(("name", "column"), [(LONG_TEXT, "name"), (NUL_TEXT, "name")])
def test_milestone_names_the_column_cannot_hold_are_refused(world, name, column):
    """Issue 12, item 13: a 5,000-character name was stored where the column takes 200; a NUL byte truncated
    a name on SQLite (and is refused by PostgreSQL)."""
    experiment, _kpi, users, reads_back = world
    before = _stored()
    content = HEADER + f'{experiment.pk},milestone,"{name}",2026-01-31,,,\n'
    report = services.progress_import_csv(content=content, user=users["programme_manager"])
    assert [(e.line, e.column) for e in report.errors] == [(2, column)], report.errors
    assert _stored() == before
    assert reads_back() == []


def test_nul_in_any_column_is_located(world):
    experiment, _kpi, users, _reads_back = world
    content = HEADER + f"{experiment.pk},kpi,Patients inclus,,,2025-05-31,4\x002\n"
    report = services.progress_import_csv(content=content, user=users["programme_manager"])
    assert [(e.line, e.column) for e in report.errors] == [(2, "value")]
    assert "nul" in report.errors[0].message


def test_huge_experiment_id_is_an_error_not_an_overflow(world):
    _experiment, _kpi, users, _reads_back = world
    content = HEADER + "99999999999999999999999,kpi,Patients inclus,,,2025-05-31,4\n"
    report = services.progress_import_csv(content=content, user=users["programme_manager"])
    assert [(e.line, e.column) for e in report.errors] == [(2, "experiment_id")]


@pytest.mark.parametrize("value", HOSTILE_DECIMALS)
def test_kpi_forms_refuse_what_the_column_cannot_hold(world, client, value):
    experiment, kpi, users, reads_back = world
    before = _stored()
    client.force_login(users["programme_manager"])
    url = f"/experimentations/{experiment.pk}/suivi/"
    for data in ({"action": "kpi_value", "value-kpi": kpi.pk, "value-date": "2025-05-31", "value-value": value},
                 {"action": "kpi", "kpi-name": "Nouvel indicateur", "kpi-target": value}):
        response = client.post(url, data)
        assert response.status_code == 200  # the form again, with its error
        assert response.context["forms"][data["action"]].errors
    assert _stored() == before
    with pytest.raises(Exception) as refused:
        services.kpi_value_record(kpi=kpi, on=date(2025, 5, 31), value=value)
    assert "ValidationError" in type(refused.value).__name__
    assert reads_back() == []


@pytest.mark.parametrize(("field", "value"), [("committed", "-1"), ("committed", "1e30"), ("spent", "NaN"),
                                              ("label", LONG_TEXT)])
def test_budget_lines_refuse_what_the_column_cannot_hold(world, client, field, value):
    experiment, _kpi, users, reads_back = world
    client.force_login(users["programme_manager"])
    data = {"action": "budget", "budget-label": "Poste", "budget-funder": "", "budget-funding_type": "public",
            "budget-committed": "10", "budget-spent": "0", f"budget-{field}": value}
    response = client.post(f"/experimentations/{experiment.pk}/suivi/", data)
    assert response.status_code == 200 and field in response.context["forms"]["budget"].errors
    assert not BudgetLine.objects.exists()
    assert reads_back() == []


@pytest.mark.parametrize(("months", "days"), [("99999999999999999999", "0"), ("0", "-99999999999999999999"),
                                              ("1201", "0"), ("0", "36601")])
def test_deadline_offsets_stay_in_the_calendar(world, client, months, days):
    experiment, _kpi, users, reads_back = world
    anchor = services.deadline_add(experiment=experiment, name="Fin", fixed_date=date(2026, 1, 1))
    client.force_login(users["programme_manager"])
    response = client.post(f"/experimentations/{experiment.pk}/echeances/", {
        "action": "add", "name": "Bien plus tard", "relative_to": anchor.pk, "offset_months": months,
        "offset_days": days})
    assert response.status_code == 200 and response.context["form"].errors
    assert list(Deadline.objects.values_list("name", flat=True)) == ["Fin"]
    assert reads_back() == []


def test_a_resolved_date_beyond_the_calendar_is_refused(world):
    experiment, _kpi, _users, _reads_back = world
    anchor = services.deadline_add(experiment=experiment, name="Fin", fixed_date=date(9990, 1, 1))
    with pytest.raises(Exception) as refused:
        services.deadline_add(experiment=experiment, name="Après", relative_to=anchor, offset_months=1200)
    assert "offset_months" in refused.value.message_dict


def test_gate_criteria_longer_than_the_column_are_refused(world, client):
    _experiment, _kpi, users, reads_back = world
    client.force_login(users["programme_manager"])
    response = client.post("/experimentations/criteres/", {"stage_1": "Court\n" + "y" * 301})
    assert response.status_code == 200 and "stage_1" in response.context["form"].errors
    assert not GateCriterion.objects.exists()
    assert reads_back() == []


def test_database_refuses_rows_written_around_validation(world):
    """The check constraints hold even for writes that skip the services (bulk updates, shell, admin)."""
    from django.db import IntegrityError, transaction

    experiment, _kpi, _users, _reads_back = world
    line = BudgetLine.objects.create(experiment=experiment, label="Poste", committed=10, spent=0)
    with pytest.raises(IntegrityError), transaction.atomic():
        BudgetLine.objects.filter(pk=line.pk).update(spent=-1)
    anchor = Deadline.objects.create(experiment=experiment, name="Fin", fixed_date=date(2026, 1, 1))
    with pytest.raises(IntegrityError), transaction.atomic():
        Deadline.objects.create(experiment=experiment, name="Loin", relative_to=anchor, offset_months=10**6)


@pytest.mark.django_db(transaction=True)
def test_migration_repairs_what_main_stored(make_user, client):
    """What main let through (a KPI actual of 1e30 on SQLite, negative amounts, offsets of a million months) is
    repaired by the migration adding the constraints; the experiment then reads back."""
    from decimal import Decimal

    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before = ("portfolio", "0001_initial")
    executor = MigrationExecutor(connection)
    executor.migrate([before])
    old = executor.loader.project_state([before]).apps
    organisation = old.get_model("accounts", "Organisation").objects.create(name="Ancienne", sector="public",
                                                                             kind="hospital")
    experiment = old.get_model("portfolio", "Experiment").objects.create(title="Ancienne", lead_organisation=organisation)
    old.get_model("portfolio", "BudgetLine").objects.create(experiment=experiment, label="Poste", committed=-3, spent=1)
    anchor = old.get_model("portfolio", "Deadline").objects.create(experiment=experiment, name="Fin",
                                                                     fixed_date=date(2026, 1, 1))
    old.get_model("portfolio", "Deadline").objects.create(experiment=experiment, name="Loin", relative_to=anchor,
                                                          offset_months=10**6)
    kpi = old.get_model("portfolio", "Kpi").objects.create(experiment=experiment, name="Patients")
    old.get_model("portfolio", "KpiValue").objects.create(kpi=kpi, date=date(2025, 1, 1), value=Decimal("12.5"))
    if connection.vendor == "sqlite":  # PostgreSQL's numeric(14, 2) never took it
        old.get_model("portfolio", "KpiValue").objects.create(kpi=kpi, date=date(2025, 2, 1), value=Decimal("1e30"))
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert list(KpiValue.objects.values_list("value", flat=True)) == [Decimal("12.5")]
    assert list(BudgetLine.objects.values_list("committed", "spent")) == [(0, 1)]
    assert Deadline.objects.get(name="Loin").offset_months == 1200
    client.force_login(make_user("programme_manager"))
    for url in (f"/experimentations/{experiment.pk}/", f"/api/v1/experiments/{experiment.pk}/",
                "/api/v1/experiments/", f"/experimentations/{experiment.pk}/echeances/"):
        assert client.get(url).status_code == 200, url
