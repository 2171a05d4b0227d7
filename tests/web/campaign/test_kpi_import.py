"""CSV import of KPI series: every error located by line and column, all or nothing, the model's own rules
(core.validation), totals that never go down, and an export that imports back unchanged."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from tremplin.web.campaign import exports, services
from tremplin.web.campaign.kpi_import import kpi_import_csv
from tremplin.web.campaign.models import KpiEntry

pytestmark = pytest.mark.django_db

TODAY = date(2026, 1, 15)


@pytest.fixture
def campaign(coalition):
    return services.campaign_create(coalition=coalition, name="Import", starts_on=date(2025, 1, 1),
                                    ends_on=date(2025, 12, 31), currency="CAD")


def _errors(report) -> list[tuple[int, str]]:
    return [(e.line, e.column) for e in report.errors]


def test_a_valid_file_is_written_whole(campaign, personas):
    content = ("date;unique_visits;unique_reach;budget\n"
               "2025-01-31;410;61 000;18 500,50\n"
               "\n"
               "28/02/2025;980;;31000\n")
    report = kpi_import_csv(campaign=campaign, content=content.encode("utf-8-sig"), by=personas.runner, today=TODAY)
    assert report.ok, report.errors
    assert report.created == 5 and report.updated == 0
    values = {(e.metric, e.on): e.value for e in KpiEntry.objects.filter(campaign=campaign)}
    assert values == {("unique_visits", date(2025, 1, 31)): Decimal(410),
                      ("unique_reach", date(2025, 1, 31)): Decimal(61_000),
                      ("budget", date(2025, 1, 31)): Decimal("18500.50"),
                      ("unique_visits", date(2025, 2, 28)): Decimal(980),
                      ("budget", date(2025, 2, 28)): Decimal(31_000)}
    assert set(KpiEntry.objects.values_list("source", "entered_by")) == {("csv", personas.runner.pk)}


def test_every_error_is_located_and_nothing_is_written(campaign):
    content = ("date,unique_visits,press_interviews,budget\n"
               "2025-01-31,410,2,1000\n"  # line 2: fine
               "2025-13-01,420,2,1000\n"  # line 3: no such month
               "2025-02-28,4.5,x,1000.123\n"  # line 4: a fraction of a visit, a word, three decimals
               "2025-01-31,500,3,1200\n"  # line 5: the date of line 2 again
               "2024-12-31,1,1,1\n"  # line 6: before the campaign
               "2026-01-20,5000,9,9000\n"  # line 7: after the campaign's end (and in the future)
               "2025-03-31,300,3,2000\n"  # line 8: fewer visits than on line 2
               "2025-04-30,9999999999999,3,2000,extra\n")  # line 9: one value too many
    report = kpi_import_csv(campaign=campaign, content=content, today=TODAY)
    assert not report.ok
    assert _errors(report) == [(3, "date"), (4, "unique_visits"), (4, "press_interviews"), (4, "budget"),
                               (5, "date"), (6, "date"), (7, "date"), (8, "unique_visits"), (9, "*")]
    messages = {(e.line, e.column): e.message for e in report.errors}
    assert "entier" in messages[(4, "unique_visits")] and "décimales" in messages[(4, "budget")]
    assert "ligne 2" in messages[(5, "date")]
    assert "diminue" in messages[(8, "unique_visits")] and "410" in messages[(8, "unique_visits")]
    assert not KpiEntry.objects.exists()


@pytest.mark.parametrize("header,line,column", [
    ("date,visits\n", 1, "visits"),  # unknown column
    ("unique_visits\n", 1, "date"),  # no date column
    ("date,unique_visits,unique_visits\n", 1, "unique_visits"),  # the same column twice
    ("date\n", 1, "*"),  # no KPI column
])
def test_header_errors(campaign, header, line, column):
    report = kpi_import_csv(campaign=campaign, content=header + "2025-01-31,1,1\n", today=TODAY)
    assert (line, column) in _errors(report)
    assert not KpiEntry.objects.exists()


def test_empty_files_and_nul_bytes(campaign):
    assert _errors(kpi_import_csv(campaign=campaign, content=b"", today=TODAY)) == [(1, "*")]
    assert _errors(kpi_import_csv(campaign=campaign, content="date,budget\n", today=TODAY)) == [(2, "*")]
    assert _errors(kpi_import_csv(campaign=campaign, content="date,budget\n2025-01-31,1\x00\n", today=TODAY)) == [
        (1, "*")]


def test_the_values_already_recorded_count(campaign):
    services.kpi_record(campaign=campaign, on=date(2025, 3, 31), values={"unique_reach": Decimal(100_000)})
    # 50,000 people on 30 April would be fewer than the 100,000 already recorded on 31 March.
    report = kpi_import_csv(campaign=campaign, content="date,unique_reach\n2025-04-30,50000\n", today=TODAY)
    assert _errors(report) == [(2, "unique_reach")]
    # Replacing 31 March's value itself is allowed, and counted as an update.
    report = kpi_import_csv(campaign=campaign, content="date,unique_reach\n2025-03-31,40000\n2025-04-30,50000\n",
                            today=TODAY)
    assert report.ok and (report.created, report.updated) == (1, 1)


def test_the_model_rules_apply_too(campaign):
    """A value the column cannot hold (max_digits=14, decimal_places=2) is refused by the model's own validation."""
    report = kpi_import_csv(campaign=campaign, content="date,budget\n2025-01-31,1000000000000\n", today=TODAY)
    assert _errors(report) == [(2, "budget")]
    assert not KpiEntry.objects.exists()


def test_an_export_imports_back_unchanged(current, personas):
    response = exports.kpi_response(current, fmt="csv")
    content = b"".join(response.streaming_content) if response.streaming else response.content
    before = sorted(KpiEntry.objects.filter(campaign=current).values_list("metric", "on", "value"))
    report = kpi_import_csv(campaign=current, content=content, by=personas.runner)
    assert report.ok, report.errors
    assert (report.created, report.updated) == (0, 0)
    assert sorted(KpiEntry.objects.filter(campaign=current).values_list("metric", "on", "value")) == before


def test_manual_entry_has_the_same_checks(current):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as caught:
        services.kpi_record(campaign=current, on=date(2025, 7, 1), values={"unique_reach": Decimal(1)})
    assert "unique_reach" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        services.kpi_record(campaign=current, on=date(2024, 7, 1), values={"unique_reach": Decimal(1)})
    assert "on" in caught.value.message_dict
