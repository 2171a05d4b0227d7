"""Territory CSV import: counts on good files, a located error for each kind of bad row, no partial writes."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.web.factories import TerritoryFactory
from tremplin.web.accounts.models import Territory
from tremplin.web.accounts.services import ImportReport, territories_import_csv

pytestmark = pytest.mark.django_db

HEADER = "code,name,level,parent_code,population\n"
GOOD = HEADER + (
    "FR,France,country,,68400000\n"
    "FR-ARA,Auvergne-Rhône-Alpes,region,FR,8160000\n"
    "FR-69,Rhône,department,FR-ARA,1920000\n"
    "FR-69-LYO,Lyon,community_area,FR-69,\n"
)


def _snapshot() -> list[tuple]:
    return list(Territory.objects.order_by("code").values_list("code", "name", "level", "parent__code", "population"))


def _single_error(report: ImportReport):
    assert not report.ok
    assert report.created == 0 and report.updated == 0
    assert len(report.errors) == 1, [str(e) for e in report.errors]
    return report.errors[0]


def test_good_file_creates_then_updates():
    report = territories_import_csv(content=GOOD.encode())
    assert report.ok, [str(e) for e in report.errors]
    assert (report.created, report.updated) == (4, 0)
    lyon = Territory.objects.get(code="FR-69-LYO")
    assert lyon.parent.code == "FR-69" and lyon.parent.parent.parent.code == "FR"
    assert lyon.population is None
    assert Territory.objects.get(code="FR").population == 68_400_000

    again = territories_import_csv(content=(GOOD.replace("Lyon,", "Lyon Métropole,") + "FR-38,Isère,department,FR-ARA,1 290 000\n"))
    assert again.ok
    assert (again.created, again.updated) == (1, 4)
    assert Territory.objects.get(code="FR-69-LYO").name == "Lyon Métropole"
    assert Territory.objects.get(code="FR-38").population == 1_290_000


def test_child_may_reference_parent_already_in_database():
    TerritoryFactory(code="FR", level="country")
    report = territories_import_csv(content=HEADER + "FR-ARA,ARA,region,FR,\n")
    assert report.ok and report.created == 1
    assert Territory.objects.get(code="FR-ARA").parent.code == "FR"


def test_parent_listed_after_child_is_accepted():
    report = territories_import_csv(content=HEADER + "FR-ARA,ARA,region,FR,\nFR,France,country,,\n")
    assert report.ok and report.created == 2


def test_cp1252_semicolon_file_is_accepted():
    content = ("code;name;level;parent_code;population\r\n"
               "FR;France;country;;68400000\r\n"
               "FR-ARA;Auvergne-Rhône-Alpes;region;FR;8160000\r\n").encode("cp1252")
    with pytest.raises(UnicodeDecodeError):
        content.decode("utf-8")
    report = territories_import_csv(content=content)
    assert report.ok, [str(e) for e in report.errors]
    assert report.created == 2
    assert Territory.objects.get(code="FR-ARA").name == "Auvergne-Rhône-Alpes"


def test_utf8_bom_and_header_case_are_accepted():
    content = "\ufeffCode,Name,Level,Parent_Code,Population\nFR,France,country,,1\n".encode()
    report = territories_import_csv(content=content)
    assert report.ok and report.created == 1


@pytest.mark.parametrize(
    ("body", "line", "column", "fragment"),
    [
        ("FR,France,country,,1\n,Sans code,region,FR,1\n", 3, "code", "obligatoire"),
        ("FR,France,country,,1\nFR,France bis,country,,1\n", 3, "code", "double"),
        ("FR,France,country,,1\nFR-X,X,province,FR,1\n", 3, "level", "province"),
        ("FR,France,country,,-5\n", 2, "population", "-5"),
        ("FR,France,country,,beaucoup\n", 2, "population", "beaucoup"),
        ("FR,France,country,,1\nFR-X,X,region,ZZ,1\n", 3, "parent_code", "ZZ"),
        ("FR,France,country,,1\nFR-A,A,region,FR,1\nFR-B,B,region,FR-A,1\n", 4, "parent_code", "region"),
        ("FR,France,country,,1\nFR-D,D,department,FR,1\nFR-R,R,region,FR-D,1\n", 4, "parent_code", "department"),
        ("FR,France,country,FR,1\n", 2, "parent_code", "propre parent"),
        ("FR,France,country,,1,extra\n", 2, "*", "trop de valeurs"),
        ("FR,,country,,1\n", 2, "name", "nom"),
        (f"{'X' * 33},Long,country,,1\n", 2, "code", "32"),
        ("FR,Fr\x00ance,country,,1\n", 2, "name", "nul"),
    ],
    ids=["empty-code", "duplicate-code", "unknown-level", "negative-population", "non-numeric-population",
         "unknown-parent", "parent-same-level", "parent-lower-level", "self-parent", "too-many-values",
         "empty-name", "code-too-long", "nul-character"],
)
def test_each_bad_row_gives_a_located_error_and_writes_nothing(body, line, column, fragment):
    TerritoryFactory(code="EXISTING", name="Déjà là", level="country", population=7)
    before = _snapshot()
    report = territories_import_csv(content=(HEADER + body).encode())
    error = _single_error(report)
    assert (error.line, error.column) == (line, column)
    assert fragment in error.message
    assert f"ligne {line}" in str(error)
    assert _snapshot() == before


def test_missing_columns_are_named():
    report = territories_import_csv(content=b"code,name,population\nFR,France,1\n")
    error = _single_error(report)
    assert error.line == 1
    assert error.column == "level, parent_code"
    assert Territory.objects.count() == 0


@pytest.mark.parametrize("content", [b"", HEADER.encode()], ids=["empty", "header-only"])
def test_empty_file_is_an_error(content):
    report = territories_import_csv(content=content)
    assert not report.ok and report.errors
    assert Territory.objects.count() == 0


def test_line_numbers_count_physical_lines():
    # A blank line and a quoted multi-line name must not shift the reported line numbers.
    body = 'FR,France,country,,1\n\nFR-A,"Nom sur\ndeux lignes",region,FR,1\nFR-B,B,province,FR,1\n'
    report = territories_import_csv(content=HEADER + body)
    error = _single_error(report)
    assert (error.line, error.column) == (6, "level")


def test_all_errors_reported_together_and_nothing_written_even_with_valid_rows():
    body = "FR,France,country,,1\nFR-A,A,region,FR,1\nFR-B,B,nowhere,FR,1\nFR-C,C,region,FR,-1\n"
    report = territories_import_csv(content=HEADER + body)
    assert [(e.line, e.column) for e in report.errors] == [(4, "level"), (5, "population")]
    assert Territory.objects.count() == 0


def test_error_list_is_capped_but_total_is_counted():
    body = "".join(f"C{i},N,bad,,1\n" for i in range(120))
    report = territories_import_csv(content=HEADER + body)
    assert report.total_errors == 120
    assert len(report.errors) == 50


def test_population_beyond_database_range_is_an_error_not_a_crash():
    report = territories_import_csv(content=HEADER + "FR,France,country,,99999999999\n")
    error = _single_error(report)
    assert (error.line, error.column) == (2, "population")
    assert Territory.objects.count() == 0


def test_oversized_field_is_an_error_not_a_crash():
    report = territories_import_csv(content=HEADER + "FR," + "x" * 200_000 + ",country,,1\n")
    assert not report.ok
    assert report.errors[0].line == 2
    assert Territory.objects.count() == 0


# --- property: any corrupted file gives a report, never an exception; nothing written unless ok ---

_cell = st.one_of(
    st.sampled_from(["FR", "FR-ARA", "FR-69", "", "country", "region", "department", "community_area",
                     "-1", "12", "1 000", "x" * 40, '"', "'", ";", ",", "\t", "\r", "\x00", "é", "NaN"]),
    st.text(max_size=8),
)
_row = st.lists(_cell, min_size=0, max_size=7)


@st.composite
def corrupted_csv(draw):
    rows = [line.rstrip("\n") for line in GOOD.splitlines()]
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["replace", "insert", "delete", "truncate"]))
        i = draw(st.integers(0, max(len(rows) - 1, 0)))
        if op == "replace" and rows:
            rows[i] = draw(st.sampled_from([",", ";", "\t"])).join(draw(_row))
        elif op == "insert":
            rows.insert(i, ",".join(draw(_row)))
        elif op == "delete" and rows:
            rows.pop(i)
        elif op == "truncate" and rows:
            rows[i] = rows[i][: draw(st.integers(0, len(rows[i])))]
    text = "\n".join(rows)
    encoding = draw(st.sampled_from(["utf-8", "cp1252", "latin-1", "str"]))
    if encoding == "str":
        return text
    return text.encode(encoding, errors="replace")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=corrupted_csv())
def test_any_corrupted_file_gives_a_report_and_unchanged_database_when_not_ok(content):
    Territory.objects.update(parent=None)
    Territory.objects.all().delete()
    TerritoryFactory(code="FR", name="France", level="country", population=1)
    before = _snapshot()
    report = territories_import_csv(content=content)
    assert isinstance(report, ImportReport)
    if report.ok:
        assert report.created + report.updated >= 1
    else:
        assert report.errors and all(e.line >= 1 and e.column for e in report.errors)
        assert _snapshot() == before
