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

import csv
import datetime as dt
import io
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tremplin.engine import schemas
from tremplin.engine.errors import EngineInputError

Progress = Callable[[float, str], None]
CSV_BATCH_ROWS = 200_000
INT_RE = r"^\s*[+-]?\d{1,18}\s*$"
FLOAT_RE = r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$"
DATE_RE = r"^\d{4}-\d{2}-\d{2}$"
TRUE_TOKENS = ("true", "t", "1", "yes", "y")
FALSE_TOKENS = ("false", "f", "0", "no", "n")


class ValidationError(NamedTuple):
    """One located problem. `row` is None for problems about a whole file or column."""

    file: str
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.column:
            where += f", column {self.column}"
        return f"{where}: {self.message}"


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


class _Collector:
    def __init__(self, max_errors: int) -> None:
        self.max_errors = max_errors
        self.errors: list[ValidationError] = []
        self.total = 0

    def add(self, file: str, row: int | None, column: str | None, message: str) -> None:
        self.total += 1
        if len(self.errors) < self.max_errors:
            self.errors.append(ValidationError(file, row, column, message))

    def add_many(self, items: list[ValidationError], total: int) -> None:
        self.total += total
        room = self.max_errors - len(self.errors)
        if room > 0:
            self.errors.extend(items[:room])

    def sql(self, con: duckdb.DuckDBPyConnection, relation_sql: str, column: str | None, message: str) -> None:
        """`relation_sql` selects the offending rows (with `_file`, `_row`, and `_value`)."""
        total = con.execute(f"SELECT count(*) FROM ({relation_sql})").fetchall()[0][0]  # noqa: S608
        if not total:
            return
        room = max(self.max_errors - len(self.errors), 0)
        rows = []
        if room:
            rows = con.execute(
                f"SELECT _file, _row, _value FROM ({relation_sql}) ORDER BY _file, _row LIMIT {room}"  # noqa: S608
            ).fetchall()
        items = [
            ValidationError(str(f), int(r) if r is not None else None, column, message.format(value=v))
            for f, r, v in rows
        ]
        self.add_many(items, int(total))


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
    from tremplin.engine.loaders import check_format

    if max_errors < 1:
        raise EngineInputError(f"--max-errors must be at least 1 (got {max_errors}).")
    progress = progress or _noop
    path = Path(path)
    fmt = check_format(format, path)
    collector = _Collector(max_errors)
    rows: dict[str, int] = {}
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="tremplin-validate-") as tmp:
        con = duckdb.connect()
        try:
            if fmt == "omop":
                from tremplin.engine.omop import register_omop_views

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


def _type_family(t: pa.DataType) -> str:
    if pa.types.is_integer(t):
        return "int"
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "float"
    if pa.types.is_date(t) or pa.types.is_timestamp(t):
        return "date"
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_dictionary(t):
        return "string"
    if pa.types.is_null(t):
        return "null"
    return str(t)


def _expected_family(t: pa.DataType) -> str:
    return _type_family(t)


def _register_ours(con, path: Path, tmp: Path, collector: _Collector, progress: Progress):
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
            if _csv_to_typed_parquet(found.path, schema, typed, collector):
                con.execute(
                    f"CREATE VIEW v_{name} AS SELECT * FROM read_parquet('{_sql_str(str(typed))}')"  # noqa: S608
                )
                available.add(name)
                from_csv.add(name)
    return available, from_csv


def _sql_str(text: str) -> str:
    return text.replace("'", "''")


def _check_parquet_schema(found: schemas.TableFile, schema: pa.Schema, collector: _Collector) -> bool:
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
            got = _type_family(actual.field(f.name).type)
            want = _expected_family(f.type)
            if got != want and not (want == "float" and got == "int") and got != "null":
                collector.add(file.name, None, f.name, f"column type is {actual.field(f.name).type}, expected {f.type}")
                ok = False
    return ok


def _csv_to_typed_parquet(path: Path, schema: pa.Schema, out: Path, collector: _Collector) -> bool:
    """Parse a CSV file row by row (exact row numbers), check and convert values in vectorised batches."""
    file = path.name
    with open(path, "rb") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", errors="surrogateescape", newline="")
        reader = csv.reader(text, strict=True)
        try:
            header = next(reader, None)
        except csv.Error as exc:
            collector.add(file, 1, None, f"malformed CSV header ({exc})")
            return False
        if not header:
            collector.add(file, 1, None, "empty file: a header row is required")
            return False
        header = [h.strip().lstrip("\ufeff") for h in header]
        if _has_surrogates(header):
            collector.add(file, 1, None, "header is not valid UTF-8 text")
            return False
        positions = {}
        ok = True
        for f in schema:
            if f.name not in header:
                collector.add(file, 1, f.name, f"missing column {f.name}")
                ok = False
            else:
                positions[f.name] = header.index(f.name)
        if not ok:
            return False
        width = len(header)
        writer = pq.ParquetWriter(out, _typed_schema(schema))
        try:
            batch: list[list[str]] = []
            numbers: list[int] = []
            row_number = 1
            while True:
                try:
                    record = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    collector.add(
                        file, reader.line_num, None, f"malformed CSV ({exc}); the rest of the file was not read"
                    )
                    break
                row_number += 1
                if not record or record == [""] * len(record) and len(record) <= 1:
                    continue
                if len(record) != width:
                    collector.add(file, row_number, None, f"expected {width} fields, found {len(record)}")
                    continue
                if _has_surrogates(record):
                    collector.add(file, row_number, None, "not valid UTF-8 text")
                    continue
                batch.append(record)
                numbers.append(row_number)
                if len(batch) >= CSV_BATCH_ROWS:
                    writer.write_table(_typed_batch(batch, numbers, schema, positions, file, collector))
                    batch, numbers = [], []
            if batch:
                writer.write_table(_typed_batch(batch, numbers, schema, positions, file, collector))
        finally:
            writer.close()
    return True


def _has_surrogates(cells: list[str]) -> bool:
    try:
        "\x1f".join(cells).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _typed_batch(batch, numbers, schema: pa.Schema, positions, file: str, collector: _Collector) -> pa.Table:
    rows_arr = np.asarray(numbers, dtype=np.int64)
    columns = {}
    for f in schema:
        pos = positions[f.name]
        raw = pa.array([r[pos] for r in batch], pa.string())
        columns[f.name] = _parse_column(raw, f, rows_arr, file, collector)
    columns["_file"] = pa.array([file] * len(batch), pa.string())
    columns["_row"] = pa.array(rows_arr, pa.int64())
    return pa.table(columns, schema=_typed_schema(schema))


def _typed_schema(schema: pa.Schema) -> pa.Schema:
    """Our schema with every column nullable (unparseable cells become null) plus the location."""
    return pa.schema(
        [*[f.with_nullable(True) for f in schema], pa.field("_file", pa.string()), pa.field("_row", pa.int64())]
    )


def _report_mask(mask: pa.Array, raw: pa.Array, rows: np.ndarray, file: str, column: str, message: str, collector):
    bad = np.flatnonzero(np.asarray(mask.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool))
    if len(bad) == 0:
        return
    room = max(collector.max_errors - len(collector.errors), 0)
    values = raw.take(pa.array(bad[:room])).to_pylist() if room else []
    items = [
        ValidationError(file, int(rows[i]), column, message.format(value=v)) for i, v in zip(bad, values, strict=False)
    ]
    collector.add_many(items, len(bad))


def _parse_column(raw: pa.Array, f: pa.Field, rows: np.ndarray, file: str, collector: _Collector) -> pa.Array:
    empty = pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(raw)), 0)
    if not f.nullable:
        _report_mask(empty, raw, rows, file, f.name, "missing value (required)", collector)
    values = pc.if_else(empty, pa.scalar(None, pa.string()), pc.utf8_trim_whitespace(raw))
    family = _type_family(f.type)
    if family == "string":
        return values
    if family == "int":
        ok = pc.match_substring_regex(values, INT_RE)
        _report_mask(pc.invert(ok), raw, rows, file, f.name, "not an integer: {value!r}", collector)
        parsed = pc.cast(pc.if_else(ok, values, pa.scalar(None, pa.string())), pa.int64())
        if f.type != pa.int64():
            info = np.iinfo(f.type.to_pandas_dtype())
            out_of_range = pc.or_(pc.less(parsed, int(info.min)), pc.greater(parsed, int(info.max)))
            _report_mask(out_of_range, raw, rows, file, f.name, "integer out of range: {value!r}", collector)
            parsed = pc.if_else(out_of_range, pa.scalar(None, pa.int64()), parsed)
        return pc.cast(parsed, f.type)
    if family == "float":
        ok = pc.match_substring_regex(values, FLOAT_RE)
        _report_mask(pc.invert(ok), raw, rows, file, f.name, "not a number: {value!r}", collector)
        return pc.cast(pc.if_else(ok, values, pa.scalar(None, pa.string())), pa.float64())
    if family == "date":
        shaped = pc.match_substring_regex(values, DATE_RE)
        parsed = pc.strptime(
            pc.if_else(shaped, values, pa.scalar(None, pa.string())), format="%Y-%m-%d", unit="s", error_is_null=True
        )
        bad = pc.and_(pc.is_valid(values), pc.is_null(parsed))
        _report_mask(bad, raw, rows, file, f.name, "not a date (YYYY-MM-DD): {value!r}", collector)
        return pc.cast(parsed, pa.date32())
    if family == "bool":
        lower = pc.utf8_lower(values)
        is_true = pc.is_in(lower, pa.array(TRUE_TOKENS))
        is_false = pc.is_in(lower, pa.array(FALSE_TOKENS))
        bad = pc.and_(pc.is_valid(values), pc.invert(pc.or_(is_true, is_false)))
        _report_mask(bad, raw, rows, file, f.name, "not a boolean (true/false/1/0): {value!r}", collector)
        return pc.if_else(pc.or_(is_true, is_false), is_true, pa.scalar(None, pa.bool_()))
    raise AssertionError(f"unsupported type {f.type}")  # pragma: no cover


# ---------------------------------------------------------------------------------------------------
# Checks in SQL over views v_<table> (columns of our schema + _file, _row).


def _run_checks(con, available: set[str], collector: _Collector, *, skip_null_checks: set[str]) -> None:
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
