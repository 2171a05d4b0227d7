"""Code lists kept as data (CSV files in `tremplin/engine/data/`), read once."""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True)
class AvoidableCode:
    """One ICD-10 prefix of the potentially avoidable hospitalisations list."""

    condition: str
    pqi: str
    icd10_prefix: str
    label: str
    min_age: int | None
    max_age: int | None
    source: str


AVOIDABLE_CODES_FILE = "avoidable_hospitalisations_icd10.csv"


@functools.cache
def avoidable_codes() -> tuple[AvoidableCode, ...]:
    """The ambulatory-care-sensitive conditions code list (AHRQ PQI mapped to CIM-10)."""
    text = resources.files("tremplin.engine").joinpath("data", AVOIDABLE_CODES_FILE).read_text("utf-8")
    rows = []
    for row in csv.DictReader(text.splitlines()):
        rows.append(
            AvoidableCode(
                condition=row["condition"],
                pqi=row["pqi"],
                icd10_prefix=row["icd10_prefix"].strip().upper(),
                label=row["label"],
                min_age=int(row["min_age"]) if row["min_age"] else None,
                max_age=int(row["max_age"]) if row["max_age"] else None,
                source=row["source"],
            )
        )
    return tuple(rows)


def is_avoidable(icd10: str | None, age: int) -> bool:
    """Pure-Python reference of the avoidable-hospitalisation rule (used by the generator and tests)."""
    if not icd10:
        return False
    code = icd10.replace(".", "").upper()
    for item in avoidable_codes():
        if not code.startswith(item.icd10_prefix):
            continue
        if item.min_age is not None and age < item.min_age:
            continue
        if item.max_age is not None and age > item.max_age:
            continue
        return True
    return False
