"""PyArrow schemas of Tremplin's care data (documented in `docs/data.md`).

A dataset is a directory holding four tables, each as `<name>.parquet`, a directory
`<name>/` of Parquet parts, or `<name>.csv` (header row, comma-separated, ISO dates):
`territories`, `persons`, `observation_periods`, `care_events`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pyarrow as pa

SETTINGS: tuple[str, ...] = ("outpatient", "inpatient", "emergency", "home", "pharmacy")
"""Allowed values of `care_events.setting`."""

SEXES: tuple[str, ...] = ("F", "M")
"""Allowed values of `persons.sex` (null when unknown)."""

CHRONIC_FLAGS: tuple[str, ...] = ("diabetes", "heart_failure", "copd", "asthma", "hypertension")
"""Chronic-condition flags carried by `persons` (booleans)."""

TERRITORIES = pa.schema(
    [
        pa.field("territory_id", pa.int64(), nullable=False),
        pa.field("code", pa.string(), nullable=False),
        pa.field("name", pa.string(), nullable=False),
        pa.field("level", pa.string(), nullable=False),
        pa.field("parent_id", pa.int64(), nullable=True),
        pa.field("population", pa.int64(), nullable=True),
    ]
)

PERSONS = pa.schema(
    [
        pa.field("person_id", pa.int64(), nullable=False),
        pa.field("birth_year", pa.int32(), nullable=False),
        pa.field("sex", pa.string(), nullable=True),
        pa.field("territory_id", pa.int64(), nullable=False),
        *[pa.field(flag, pa.bool_(), nullable=False) for flag in CHRONIC_FLAGS],
    ]
)

OBSERVATION_PERIODS = pa.schema(
    [
        pa.field("person_id", pa.int64(), nullable=False),
        pa.field("start", pa.date32(), nullable=False),
        pa.field("end", pa.date32(), nullable=False),
    ]
)

CARE_EVENTS = pa.schema(
    [
        pa.field("event_id", pa.int64(), nullable=False),
        pa.field("person_id", pa.int64(), nullable=False),
        pa.field("event_date", pa.date32(), nullable=False),
        pa.field("setting", pa.string(), nullable=False),
        pa.field("icd10", pa.string(), nullable=True),
        pa.field("act_code", pa.string(), nullable=True),
        pa.field("provider_id", pa.string(), nullable=True),
        pa.field("length_of_stay_days", pa.int32(), nullable=False),
        pa.field("cost_eur", pa.float64(), nullable=True),
    ]
)

TableName = Literal["territories", "persons", "observation_periods", "care_events"]

SCHEMAS: dict[str, pa.Schema] = {
    "territories": TERRITORIES,
    "persons": PERSONS,
    "observation_periods": OBSERVATION_PERIODS,
    "care_events": CARE_EVENTS,
}
"""Every table of a dataset, in dependency order (parents first)."""

SECTORS: tuple[str, ...] = ("public", "private_for_profit", "private_non_profit", "social_economy", "community")
"""Allowed values of `providers.sector` (the platform's sectors, all equal partners)."""

PROVIDER_KINDS: tuple[str, ...] = ("primary_care", "pharmacy", "home_care", "hospital", "other")
"""Allowed values of `providers.kind`."""

PROVIDERS = pa.schema(
    [
        pa.field("provider_id", pa.string(), nullable=False),
        pa.field("organisation_id", pa.string(), nullable=False),
        pa.field("organisation_name", pa.string(), nullable=True),
        pa.field("sector", pa.string(), nullable=True),
        pa.field("kind", pa.string(), nullable=True),
    ]
)

PERSON_STATUS = pa.schema(
    [
        pa.field("person_id", pa.int64(), nullable=False),
        pa.field("long_term_condition", pa.bool_(), nullable=True),
        pa.field("low_income", pa.bool_(), nullable=True),
        pa.field("gp_provider_id", pa.string(), nullable=True),
    ]
)

OPTIONAL_SCHEMAS: dict[str, pa.Schema] = {
    "providers": PROVIDERS,
    "person_status": PERSON_STATUS,
}
"""Optional tables (not validated, not required, not copied by `import_dataset`): who the providers are
(organisation, sector, kind) and the persons' cover (long-term condition, low income, declared GP). The
funding models use them when present and fall back on documented defaults otherwise."""

PRIMARY_KEYS: dict[str, str | None] = {
    "territories": "territory_id",
    "persons": "person_id",
    "observation_periods": None,
    "care_events": "event_id",
}

ICD10_PATTERN = r"^[A-Z][0-9][0-9A-Z]{0,5}$"
"""ICD-10 (CIM-10) codes are stored upper-case without the dot: `I500`, `J441`, `E86`."""

MIN_DATE_YEAR = 1900
MAX_DATE_YEAR = 2100


@dataclass(frozen=True)
class TableFile:
    """Where one table of a dataset lives."""

    name: str
    path: Path
    format: Literal["parquet", "csv"]


def find_table(data_dir: Path, name: str) -> TableFile | None:
    """Locate table `name` in `data_dir` (`name.parquet`, `name/` with Parquet parts, or `name.csv`)."""
    data_dir = Path(data_dir)
    candidates = [
        (data_dir / f"{name}.parquet", "parquet"),
        (data_dir / name, "parquet"),
        (data_dir / f"{name}.csv", "csv"),
    ]
    for path, fmt in candidates:
        if path.is_file() or (path.is_dir() and any(path.glob("*.parquet"))):
            return TableFile(name=name, path=path, format=fmt)  # type: ignore[arg-type]
    return None


def parquet_glob(table: TableFile) -> str:
    """A path (or glob) that DuckDB's `read_parquet` understands."""
    if table.path.is_dir():
        return str(table.path / "*.parquet")
    return str(table.path)
