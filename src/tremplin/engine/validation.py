"""Validation of a dataset: every problem located by file, row and column.

Checks: missing tables and columns, malformed CSV rows, values that do not parse (types, dates),
missing required values, values out of range, unknown codes (sex, setting, ICD-10 format, OMOP
concepts), duplicate ids, orphan references (person -> territory, period/event -> person, territory
-> parent), overlapping observation periods and events outside every observation period.
Errors are capped at `max_errors` (the first ones, by table and row) with the total count.

Rows are numbered as a reader sees them: in a CSV file the header is row 1 and the first record
row 2; in a Parquet file the first record is row 1; OMOP tables in a database by insertion order.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from tremplin.engine import schemas
from tremplin.engine.errors import EngineInputError
from tremplin.engine.formats import check_format
from tremplin.engine.omop import register_omop_views
from tremplin.engine.problems import Collector, ValidationError
from tremplin.engine.typed_csv import csv_to_typed_parquet, type_family

__all__ = ["ValidationError", "ValidationReport", "validate_dataset"]

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class ValidationReport:
    """Outcome of `validate_dataset`: `.ok`, the first `.errors` and `.total_errors`."""

    path: str
    format: str
    errors: tuple[ValidationError, ...]
    total_errors: int
    max_errors: int
    rows: dict[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.total_errors == 0

    def summary(self) -> str:
        if self.ok:
            counts = ", ".join(f"{n:,} {name}" for name, n in self.rows.items())
            return f"{self.path}: valid ({counts})."
        shown = len(self.errors)
        more = f" (first {shown} shown)" if shown < self.total_errors else ""
        return f"{self.path}: {self.total_errors:,} problem(s){more}."





def _noop(fraction: float, message: str) -> None:
    return None


def validate_dataset(
    path: str | Path,
    *,
    format: str = "auto",
    max_errors: int = 20,
    progress: Progress | None = None,
) -> ValidationReport:
    """Check a dataset (our format as CSV/Parquet, or OMOP CDM 5.3/5.4); never raises on bad data."""
    if max_errors < 1:
        raise EngineInputError(f"`max_errors` must be at least 1 (got {max_errors}).")
    progress = progress or _noop
    path = Path(path)
    fmt = check_format(format, path)
    collector = Collector(max_errors)
    rows: dict[str, int] = {}
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="tremplin-validate-") as tmp:
        con = duckdb.connect()
        try:
            if fmt == "omop":
                available, omop_notes = register_omop_views(con, path, collector)
                notes.extend(omop_notes)
                from_csv: set[str] = set()
            else:
                available, from_csv = _register_ours(con, path, Path(tmp), collector, progress)
            progress(0.6, "Checking values and references")
            for name in schemas.SCHEMAS:
                if name in available:
                    rows[name] = con.execute(f"SELECT count(*) FROM v_{name}").fetchall()[0][0]  # noqa: S608
            _run_checks(con, available, collector, skip_null_checks=from_csv)
        finally:
            con.close()
    progress(1.0, "Validation finished")
    return ValidationReport(
        path=str(path),
        format=fmt,
        errors=tuple(collector.errors),
        total_errors=collector.total,
        max_errors=max_errors,
        rows=rows,
        notes=tuple(notes),
    )


# ---------------------------------------------------------------------------------------------------
# Our format: Parquet read in place, CSV parsed into a typed temporary Parquet file.


def _expected_family(t: pa.DataType) -> str:
    return type_family(t)


def _register_ours(con, path: Path, tmp: Path, collector: Collector, progress: Progress):
    available: set[str] = set()
    from_csv: set[str] = set()
    names = list(schemas.SCHEMAS)
    for i, name in enumerate(names):
        progress(0.5 * i / len(names), f"Reading {name}")
        found = schemas.find_table(path, name)
        if found is None:
            collector.add(f"{name}.parquet|csv", None, None, f"table {name} is missing from {path}")
            continue
        schema = schemas.SCHEMAS[name]
        if found.format == "parquet":
            ok = _check_parquet_schema(found, schema, collector)
            if ok:
                cols = ", ".join(f'"{f.name}"' for f in schema)
                con.execute(
                    f"CREATE VIEW v_{name} AS SELECT {cols}, parse_filename(filename) AS _file, "  # noqa: S608
                    f"file_row_number + 1 AS _row "
                    f"FROM read_parquet('{_sql_str(schemas.parquet_glob(found))}', filename=true, file_row_number=true)"
                )
                available.add(name)
        else:
            typed = tmp / f"{name}.parquet"
            if csv_to_typed_parquet(found.path, schema, typed, collector):
                con.execute(
                    f"CREATE VIEW v_{name} AS SELECT * FROM read_parquet('{_sql_str(str(typed))}')"  # noqa: S608
                )
                available.add(name)
                from_csv.add(name)
    return available, from_csv


def _sql_str(text: str) -> str:
    return text.replace("'", "''")


def _check_parquet_schema(found: schemas.TableFile, schema: pa.Schema, collector: Collector) -> bool:
    files = sorted(found.path.glob("*.parquet")) if found.path.is_dir() else [found.path]
    ok = True
    for file in files:
        try:
            actual = pq.read_schema(file)
        except (pa.ArrowInvalid, OSError) as exc:
            collector.add(file.name, None, None, f"not a readable Parquet file ({exc})")
            ok = False
            continue
        for f in schema:
            if f.name not in actual.names:
                collector.add(file.name, None, f.name, f"missing column {f.name} ({f.type})")
                ok = False
                continue
            got = type_family(actual.field(f.name).type)
            want = _expected_family(f.type)
            if got != want and not (want == "float" and got == "int") and got != "null":
                collector.add(file.name, None, f.name, f"column type is {actual.field(f.name).type}, expected {f.type}")
                ok = False
    return ok




# ---------------------------------------------------------------------------------------------------
# Checks in SQL over views v_<table> (columns of our schema + _file, _row).


def _run_checks(con, available: set[str], collector: Collector, *, skip_null_checks: set[str]) -> None:
    year_max = dt.date.today().year + 1
    for name in schemas.SCHEMAS:
        if name not in available:
            continue
        schema = schemas.SCHEMAS[name]
        v = f"v_{name}"
        if name not in skip_null_checks:  # CSV cells were checked while parsing
            for f in schema:
                if not f.nullable:
                    collector.sql(
                        con,
                        f'SELECT _file, _row, NULL AS _value FROM {v} WHERE "{f.name}" IS NULL',  # noqa: S608
                        f.name,
                        "missing value (required)",
                    )
        key = schemas.PRIMARY_KEYS[name]
        if key:
            collector.sql(
                con,
                f"SELECT _file, _row, {key} AS _value FROM (SELECT *, row_number() OVER "  # noqa: S608
                f"(PARTITION BY {key} ORDER BY _file, _row) AS _n FROM {v} WHERE {key} IS NOT NULL) WHERE _n > 1",
                key,
                "duplicate id {value}",
            )
    if "territories" in available:
        collector.sql(
            con,
            "SELECT t._file, t._row, t.parent_id AS _value FROM v_territories t WHERE t.parent_id IS NOT NULL "
            "AND t.parent_id NOT IN (SELECT territory_id FROM v_territories WHERE territory_id IS NOT NULL)",
            "parent_id",
            "unknown parent territory {value}",
        )
        collector.sql(
            con,
            "SELECT _file, _row, population AS _value FROM v_territories WHERE population < 0",
            "population",
            "negative population {value}",
        )
    if "persons" in available:
        collector.sql(
            con,
            f"SELECT _file, _row, birth_year AS _value FROM v_persons WHERE birth_year < 1880 "  # noqa: S608
            f"OR birth_year > {year_max}",
            "birth_year",
            f"birth year {{value}} out of range 1880-{year_max}",
        )
        collector.sql(
            con,
            f"SELECT _file, _row, sex AS _value FROM v_persons WHERE sex IS NOT NULL AND sex NOT IN "  # noqa: S608
            f"({_sql_list(schemas.SEXES)})",
            "sex",
            f"unknown sex code {{value!r}} (allowed: {', '.join(schemas.SEXES)} or empty)",
        )
        if "territories" in available:
            collector.sql(
                con,
                "SELECT p._file, p._row, p.territory_id AS _value FROM v_persons p WHERE p.territory_id IS NOT NULL "
                "AND NOT EXISTS (SELECT 1 FROM v_territories t WHERE t.territory_id = p.territory_id)",
                "territory_id",
                "unknown territory {value}",
            )
    date_range = f"BETWEEN DATE '{schemas.MIN_DATE_YEAR}-01-01' AND DATE '{schemas.MAX_DATE_YEAR}-12-31'"
    if "observation_periods" in available:
        for col in ("start", "end"):
            collector.sql(
                con,
                f'SELECT _file, _row, "{col}" AS _value FROM v_observation_periods '  # noqa: S608
                f'WHERE "{col}" IS NOT NULL AND NOT ("{col}" {date_range})',
                col,
                f"date {{value}} out of range {schemas.MIN_DATE_YEAR}-{schemas.MAX_DATE_YEAR}",
            )
        collector.sql(
            con,
            'SELECT _file, _row, "end" AS _value FROM v_observation_periods WHERE "end" < start',
            "end",
            "observation period ends ({value}) before it starts",
        )
        collector.sql(
            con,
            'SELECT _file, _row, start AS _value FROM (SELECT *, lag("end") OVER (PARTITION BY person_id '
            'ORDER BY start, "end", _file, _row) AS _prev FROM v_observation_periods '
            'WHERE person_id IS NOT NULL AND start IS NOT NULL AND "end" IS NOT NULL) WHERE start <= _prev',
            "start",
            "observation period starting {value} overlaps the previous one of the same person",
        )
        if "persons" in available:
            collector.sql(
                con,
                "SELECT o._file, o._row, o.person_id AS _value FROM v_observation_periods o "
                "WHERE o.person_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM v_persons p WHERE p.person_id = o.person_id)",
                "person_id",
                "unknown person {value}",
            )
    if "care_events" in available:
        e = "v_care_events"
        collector.sql(
            con,
            f"SELECT _file, _row, event_date AS _value FROM {e} WHERE event_date IS NOT NULL "  # noqa: S608
            f"AND NOT (event_date {date_range})",
            "event_date",
            f"date {{value}} out of range {schemas.MIN_DATE_YEAR}-{schemas.MAX_DATE_YEAR}",
        )
        collector.sql(
            con,
            f"SELECT _file, _row, setting AS _value FROM {e} WHERE setting IS NOT NULL "  # noqa: S608
            f"AND setting NOT IN ({_sql_list(schemas.SETTINGS)})",
            "setting",
            f"unknown setting {{value!r}} (allowed: {', '.join(schemas.SETTINGS)})",
        )
        collector.sql(
            con,
            f"SELECT _file, _row, icd10 AS _value FROM {e} WHERE icd10 IS NOT NULL "  # noqa: S608
            f"AND NOT regexp_full_match(icd10, '{schemas.ICD10_PATTERN.strip('^$')}')",
            "icd10",
            "not an ICD-10 code {value!r} (upper case, without the dot, e.g. I500)",
        )
        collector.sql(
            con,
            f"SELECT _file, _row, length_of_stay_days AS _value FROM {e} WHERE length_of_stay_days < 0",  # noqa: S608
            "length_of_stay_days",
            "negative length of stay {value}",
        )
        collector.sql(
            con,
            f"SELECT _file, _row, cost_eur AS _value FROM {e} WHERE cost_eur < 0 OR isnan(cost_eur)",  # noqa: S608
            "cost_eur",
            "negative or NaN cost {value}",
        )
        if "persons" in available:
            collector.sql(
                con,
                f"SELECT c._file, c._row, c.person_id AS _value FROM {e} c WHERE c.person_id IS NOT NULL "  # noqa: S608
                "AND NOT EXISTS (SELECT 1 FROM v_persons p WHERE p.person_id = c.person_id)",
                "person_id",
                "unknown person {value}",
            )
        if "observation_periods" in available:
            collector.sql(
                con,
                f"SELECT c._file, c._row, c.event_date AS _value FROM {e} c "  # noqa: S608
                "WHERE c.person_id IS NOT NULL AND c.event_date IS NOT NULL "
                "AND NOT EXISTS "
                "(SELECT 1 FROM v_observation_periods o WHERE o.person_id = c.person_id "
                'AND c.event_date BETWEEN o.start AND o."end")',
                "event_date",
                "event on {value} is outside every observation period of the person",
            )


def _sql_list(values) -> str:
    return ", ".join("'" + _sql_str(v) + "'" for v in values)
