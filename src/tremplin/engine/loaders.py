"""Loaders: our schema in CSV or Parquet, and OMOP CDM 5.3/5.4 (see `tremplin.engine.omop`).

`import_dataset` validates a source and writes it in our Parquet layout all or nothing;
`parquet_dataset` gives a directory of our four tables as Parquet (converting when needed) for the
panel builder; `open_tables` opens them as Ibis tables on any backend.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from tremplin.engine import schemas
from tremplin.engine.errors import EngineInputError
from tremplin.engine.formats import check_format
from tremplin.engine.omop import omop_to_ours
from tremplin.engine.problems import Collector
from tremplin.engine.schemas import write_ours
from tremplin.engine.typed_csv import csv_to_typed_parquet
from tremplin.engine.validation import ValidationReport, validate_dataset

Progress = Callable[[float, str], None]


def read_csv_strings(path: Path) -> pa.Table:
    """A CSV file with every column read as text (validation parses the values itself)."""
    try:
        header = pacsv.read_csv(path, read_options=pacsv.ReadOptions(block_size=1 << 16)).schema.names
    except (pa.ArrowInvalid, OSError):
        header = None
    types = dict.fromkeys(header, pa.string()) if header else None
    return pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=False))


def read_table(table: schemas.TableFile) -> pa.Table:
    """A table of our schema, typed (raises EngineInputError if it cannot be; validate first).

    CSV files go through the validator's parser, so what validates is exactly what is loaded.
    """
    schema = schemas.SCHEMAS[table.name]
    try:
        if table.format == "parquet":
            return pq.read_table(table.path).select(schema.names).cast(schema)
        collector = Collector(max_errors=3)
        with tempfile.TemporaryDirectory(prefix="tremplin-csv-") as tmp:
            typed = Path(tmp) / "typed.parquet"
            parsed = csv_to_typed_parquet(table.path, schema, typed, collector)
            if not parsed or collector.total:
                first = "; ".join(str(e) for e in collector.errors)
                raise EngineInputError(f"{table.path}: {collector.total} problem(s), e.g. {first}")
            return pq.read_table(typed).select(schema.names).cast(schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError, KeyError, ValueError) as exc:
        if isinstance(exc, EngineInputError):
            raise
        raise EngineInputError(
            f"{table.path}: cannot be read as {table.name} ({exc}). Run `tremplin validate` for located errors."
        ) from exc


def _is_parquet_layout(data_dir: Path) -> bool:
    found = [schemas.find_table(data_dir, name) for name in schemas.SCHEMAS]
    return all(t is not None and t.format == "parquet" for t in found)


def convert_to_parquet(source: Path, dest: Path, *, format: str = "auto") -> None:
    """Write `source` (ours as CSV/Parquet, or OMOP) as our Parquet layout in `dest` (no validation)."""
    fmt = check_format(format, source)
    if fmt == "omop":
        omop_to_ours(source, dest)
        return
    tables = {}
    for name in schemas.SCHEMAS:
        found = schemas.find_table(source, name)
        if found is None:
            raise EngineInputError(f"{source}: table {name} is missing ({name}.parquet or {name}.csv).")
        tables[name] = read_table(found)
    write_ours(tables, dest)


@contextmanager
def parquet_dataset(data_dir: Path, *, format: str = "auto") -> Iterator[Path]:
    """A directory of our tables as Parquet: `data_dir` itself when it already is one, else a
    temporary conversion removed on exit."""
    data_dir = Path(data_dir)
    fmt = check_format(format, data_dir)
    if fmt == "ours" and _is_parquet_layout(data_dir):
        yield data_dir
        return
    with tempfile.TemporaryDirectory(prefix="tremplin-panel-") as tmp:
        dest = Path(tmp) / "data"
        convert_to_parquet(data_dir, dest, format=fmt)
        yield dest


def open_tables(con: Any, pq_dir: Path) -> dict[str, Any]:
    """Our four tables as Ibis tables on connection `con` (read in place from Parquet)."""
    out = {}
    for name in schemas.SCHEMAS:
        found = schemas.find_table(pq_dir, name)
        if found is None or found.format != "parquet":
            raise EngineInputError(f"{pq_dir}: table {name} is missing.")
        out[name] = con.read_parquet(schemas.parquet_glob(found), table_name=f"tremplin_{name}")
    return out


def import_dataset(
    source: str | Path,
    dest: str | Path,
    *,
    format: str = "auto",
    max_errors: int = 20,
    progress: Progress | None = None,
) -> ValidationReport:
    """Validate `source` and, only if it is valid, write it to `dest` in our Parquet layout.

    Returns the `ValidationReport`; when it is not `.ok`, nothing is written (and an existing
    `dest` is left untouched).
    """
    source, dest = Path(source), Path(dest)
    report = validate_dataset(source, format=format, max_errors=max_errors, progress=progress)
    if report.ok:
        convert_to_parquet(source, dest, format=report.format)
    return report
