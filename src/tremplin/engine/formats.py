"""Which format a dataset is in: ours (CSV or Parquet in our schema) or OMOP CDM 5.3/5.4."""

from __future__ import annotations

from pathlib import Path

from tremplin.engine import schemas
from tremplin.engine.errors import EngineInputError
from tremplin.engine.omop import find_omop_source
from tremplin.engine.options import DataFormat, check_choice

__all__ = ["check_format", "detect_format"]


def detect_format(data_dir: Path) -> str:
    """ "ours" when our tables are present, "omop" when OMOP tables (or a .duckdb file) are."""
    data_dir = Path(data_dir)
    if data_dir.is_file() and data_dir.suffix in (".duckdb", ".db"):
        return "omop"
    if not data_dir.exists():
        raise EngineInputError(f"Data directory not found: {data_dir}")
    if schemas.find_table(data_dir, "persons") is not None or schemas.find_table(data_dir, "care_events"):
        return "ours"
    if find_omop_source(data_dir) is not None:
        return "omop"
    raise EngineInputError(
        f"{data_dir}: no dataset found (expected persons/care_events files in our format, or OMOP CDM "
        "tables person/visit_occurrence/..., as .parquet or .csv, or a .duckdb file)."
    )


def check_format(format: str, data_dir: Path) -> str:
    """The format of `data_dir`: `format` itself once checked, or the detected one for "auto"."""
    check_choice("format", format, DataFormat)
    return detect_format(data_dir) if format == "auto" else format
