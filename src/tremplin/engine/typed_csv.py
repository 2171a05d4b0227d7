"""CSV files of our schema parsed into typed Parquet, every problem located by row and column.

Parsing is exact row by row (`csv` module: row numbers as a reader sees them, the header being row 1) and
the values are checked and converted in vectorised batches. What validates is exactly what is loaded:
the validator and the loaders both read CSV files through `csv_to_typed_parquet`.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tremplin.engine.problems import Collector, ValidationError

__all__ = ["csv_to_typed_parquet", "type_family"]

CSV_BATCH_ROWS = 200_000
INT_RE = r"^\s*[+-]?\d{1,18}\s*$"
FLOAT_RE = r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$"
DATE_RE = r"^\d{4}-\d{2}-\d{2}$"
TRUE_TOKENS = ("true", "t", "1", "yes", "y")
FALSE_TOKENS = ("false", "f", "0", "no", "n")


def type_family(t: pa.DataType) -> str:
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



def csv_to_typed_parquet(path: Path, schema: pa.Schema, out: Path, collector: Collector) -> bool:
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


def _typed_batch(batch, numbers, schema: pa.Schema, positions, file: str, collector: Collector) -> pa.Table:
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


def _parse_column(raw: pa.Array, f: pa.Field, rows: np.ndarray, file: str, collector: Collector) -> pa.Array:
    empty = pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(raw)), 0)
    if not f.nullable:
        _report_mask(empty, raw, rows, file, f.name, "missing value (required)", collector)
    values = pc.if_else(empty, pa.scalar(None, pa.string()), pc.utf8_trim_whitespace(raw))
    family = type_family(f.type)
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
