"""Validation: located errors, capped with a total, never an exception, never a partial write."""

from __future__ import annotations

import shutil

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tremplin.engine import schemas
from tremplin.engine.errors import EngineInputError
from tremplin.engine.generator import generate_region
from tremplin.engine.loaders import import_dataset
from tremplin.engine.validation import ValidationReport, validate_dataset


@pytest.fixture(scope="module")
def parquet_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("val") / "pq"
    generate_region(path, persons=200, territories=4, years=2, seed=9)
    return path


@pytest.fixture(scope="module")
def csv_dir(parquet_dir, tmp_path_factory):
    path = tmp_path_factory.mktemp("val") / "csv"
    path.mkdir()
    for name in schemas.SCHEMAS:
        table = pq.read_table(parquet_dir / f"{name}.parquet")
        if name == "care_events":
            table = table.slice(0, 300)
        pacsv.write_csv(table, path / f"{name}.csv")
    return path


def _copy(src, tmp_path):
    dest = tmp_path / "data"
    shutil.copytree(src, dest)
    return dest


def _lines(path):
    return path.read_text().splitlines()


def _write_lines(path, lines):
    path.write_text("\n".join(lines) + "\n")


def test_valid_data_in_both_formats(parquet_dir, csv_dir):
    for path in (parquet_dir, csv_dir):
        report = validate_dataset(path)
        assert report.ok, report.errors
        assert report.total_errors == 0 and report.rows["persons"] == 200


def test_csv_errors_are_located(csv_dir, tmp_path):
    data = _copy(csv_dir, tmp_path)
    events = data / "care_events.csv"
    lines = _lines(events)
    header = lines[0].replace('"', "").split(",")
    cells = lines[4].split(",")
    cells[header.index("setting")] = "hospital"
    lines[4] = ",".join(cells)  # row 5
    cells = lines[6].split(",")
    cells[header.index("event_date")] = "2021-02-30"
    lines[6] = ",".join(cells)  # row 7
    lines[8] = lines[8] + ",extra"  # row 9
    cells = lines[10].split(",")
    cells[header.index("person_id")] = "999999"
    lines[10] = ",".join(cells)  # row 11
    cells = lines[12].split(",")
    cells[header.index("cost_eur")] = "12,5".replace(",", ";")
    lines[12] = ",".join(cells)  # row 13
    _write_lines(events, lines)
    report = validate_dataset(data, max_errors=50)
    found = {(e.file, e.row, e.column) for e in report.errors}
    assert ("care_events.csv", 5, "setting") in found
    assert ("care_events.csv", 7, "event_date") in found
    assert ("care_events.csv", 9, None) in found
    assert ("care_events.csv", 11, "person_id") in found
    assert ("care_events.csv", 13, "cost_eur") in found
    assert not report.ok


def test_parquet_errors_are_located(parquet_dir, tmp_path):
    data = _copy(parquet_dir, tmp_path)
    persons = pq.read_table(data / "persons.parquet")
    ids = persons["person_id"].to_pylist()
    ids[3] = ids[2]  # duplicate id on row 4
    years = persons["birth_year"].to_pylist()
    years[5] = 1700  # row 6
    sexes = persons["sex"].to_pylist()
    sexes[7] = "X"  # row 8
    persons = persons.set_column(0, "person_id", pa.array(ids, pa.int64()))
    persons = persons.set_column(1, "birth_year", pa.array(years, pa.int32()))
    persons = persons.set_column(2, "sex", pa.array(sexes))
    pq.write_table(persons, data / "persons.parquet")
    obs = pq.read_table(data / "observation_periods.parquet")
    ends = obs["end"].to_pylist()
    ends[0] = obs["start"][0].as_py().replace(year=2000)  # row 1 ends before it starts
    pq.write_table(obs.set_column(2, "end", pa.array(ends, pa.date32())), data / "observation_periods.parquet")
    report = validate_dataset(data, max_errors=100)
    found = {(e.file, e.row, e.column) for e in report.errors}
    assert ("persons.parquet", 4, "person_id") in found
    assert ("persons.parquet", 6, "birth_year") in found
    assert ("persons.parquet", 8, "sex") in found
    assert ("observation_periods.parquet", 1, "end") in found
    # Events of the person whose period now ends in 2000 are outside every observation period.
    assert any(e.file == "care_events.parquet" and e.column == "event_date" for e in report.errors)


def test_wrong_parquet_types_and_missing_columns(parquet_dir, tmp_path):
    data = _copy(parquet_dir, tmp_path)
    terr = pq.read_table(data / "territories.parquet")
    terr = terr.drop_columns(["name"]).set_column(0, "territory_id", terr["territory_id"].cast(pa.string()))
    pq.write_table(terr, data / "territories.parquet")
    report = validate_dataset(data)
    found = {(e.file, e.column) for e in report.errors}
    assert ("territories.parquet", "name") in found
    assert ("territories.parquet", "territory_id") in found


def test_missing_table_and_cap_with_total(csv_dir, tmp_path):
    data = _copy(csv_dir, tmp_path)
    (data / "territories.csv").unlink()
    events = data / "care_events.csv"
    lines = _lines(events)
    lines = [lines[0]] + [line + ",x" for line in lines[1:]]
    _write_lines(events, lines)
    report = validate_dataset(data, max_errors=5)
    assert len(report.errors) == 5
    assert report.total_errors >= len(lines)  # every bad row counted, plus the missing table
    assert any("territories" in e.message for e in report.errors)


def test_errors_are_reported_not_raised_for_bad_options(parquet_dir):
    with pytest.raises(EngineInputError, match="allowed values are 'auto', 'ours', 'omop'"):
        validate_dataset(parquet_dir, format="fhir")
    with pytest.raises(EngineInputError, match="`max_errors`"):
        validate_dataset(parquet_dir, max_errors=0)


def test_import_writes_all_or_nothing(csv_dir, tmp_path):
    dest = tmp_path / "imported"
    report = import_dataset(csv_dir, dest)
    assert report.ok
    assert sorted(p.name for p in dest.iterdir()) == sorted(f"{n}.parquet" for n in schemas.SCHEMAS)
    for name, schema in schemas.SCHEMAS.items():
        assert pq.read_table(dest / f"{name}.parquet").schema.equals(schema)


# --- property-based: any corruption gives located errors, never an exception, never a partial write ---

TABLES = list(schemas.SCHEMAS)
JUNK = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", "NaN", "-1", "1e999", "2020-13-01", "abc", '"', '""', ",", "\x00", "99999999999999999999"]),
)


@st.composite
def corruption(draw):
    table = draw(st.sampled_from(TABLES))
    kind = draw(st.sampled_from(["cell", "truncate", "bytes", "drop_line", "dup_line", "header", "empty"]))
    return table, kind, draw(st.integers(0, 10_000)), draw(JUNK), draw(st.binary(min_size=1, max_size=8))


def _corrupt(path, kind, position, junk, raw):
    data = path.read_bytes()
    lines = data.split(b"\n")
    body = max(len(lines) - 2, 1)
    line = 1 + position % body
    if kind == "cell":
        cells = lines[line].split(b",")
        cells[position % len(cells)] = junk.encode("utf-8", "surrogatepass")
        lines[line] = b",".join(cells)
    elif kind == "truncate":
        lines = data[: position % max(len(data), 1)].split(b"\n")
    elif kind == "bytes":
        lines[line] = lines[line][: position % 7] + raw + lines[line][position % 7 :]
    elif kind == "drop_line":
        del lines[line]
    elif kind == "dup_line":
        lines.insert(line, lines[line])
    elif kind == "header":
        lines[0] = lines[0].replace(b"id", junk.encode("utf-8", "surrogatepass"), 1)
    else:
        lines = [b""]
    path.write_bytes(b"\n".join(lines))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(corruption())
def test_any_corrupted_csv_gives_located_errors_and_no_partial_write(csv_dir, tmp_path_factory, case):
    table, kind, position, junk, raw = case
    work = tmp_path_factory.mktemp("corrupt")
    data = work / "data"
    shutil.copytree(csv_dir, data)
    _corrupt(data / f"{table}.csv", kind, position, junk, raw)
    dest = work / "dest"
    report = import_dataset(data, dest, max_errors=10)  # must not raise
    assert isinstance(report, ValidationReport)
    assert len(report.errors) <= 10 and report.total_errors >= len(report.errors)
    for error in report.errors:
        assert error.file and error.message
        assert error.row is None or error.row >= 1
    if kind in ("empty", "dup_line"):
        assert not report.ok  # an empty file, a duplicate id or overlapping periods are always errors
    if report.ok:
        assert dest.is_dir()
    else:
        assert not dest.exists()
        assert not [p for p in work.iterdir() if p.name.startswith(".")]  # no temporary leftovers
