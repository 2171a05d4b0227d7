"""Outcome catalogue: the code list is data with its source; the Ibis rule equals the Python rule."""

from __future__ import annotations

import csv
from importlib import resources

import ibis
import pyarrow as pa
import pytest

from tremplin.engine.codelists import AVOIDABLE_CODES_FILE, avoidable_codes, is_avoidable
from tremplin.engine.errors import EngineInputError
from tremplin.engine.outcomes import CATALOGUE, Outcome, avoidable_condition, register, resolve


def test_code_list_is_packaged_data_with_sources():
    text = resources.files("tremplin.engine").joinpath("data", AVOIDABLE_CODES_FILE).read_text("utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    assert rows and all(r["source"] for r in rows)
    conditions = {r["condition"] for r in rows}
    assert {"heart_failure", "copd", "dehydration", "angina", "asthma", "diabetes_short_term"} <= conditions
    assert len(avoidable_codes()) == len(rows)


@pytest.mark.parametrize(
    ("code", "age", "expected"),
    [
        ("I500", 70, True),  # heart failure
        ("I50.9", 70, True),  # dotted form accepted by the Python rule
        ("I219", 70, False),  # myocardial infarction is not angina
        ("I200", 50, True),
        ("J441", 45, True),  # COPD from 40
        ("J441", 30, False),
        ("J459", 25, True),  # asthma in young adults (PQI 15)
        ("J459", 45, True),  # asthma from 40 counts with COPD (PQI 05)
        ("J459", 12, False),  # children excluded
        ("E86", 80, True),
        ("E111", 60, True),
        ("E112", 60, False),  # long-term complication: not on the list
        (None, 60, False),
    ],
)
def test_python_rule(code, age, expected):
    assert is_avoidable(code, age) is expected


def test_ibis_rule_equals_python_rule():
    codes = [c.icd10_prefix for c in avoidable_codes()] + ["I219", "J189", "E112", "I501", "J46", "E870", "X"]
    ages = [5, 17, 18, 30, 39, 40, 65, 90]
    rows = [(code, age) for code in codes for age in ages]
    table = ibis.memtable(
        pa.table({"setting": ["inpatient"] * len(rows), "icd10": [r[0] for r in rows], "age": [r[1] for r in rows]})
    )
    got = ibis.duckdb.connect().to_pyarrow(table.select(flag=avoidable_condition(table)))["flag"].to_pylist()
    assert got == [is_avoidable(code, age) for code, age in rows]


def test_catalogue_documents_every_outcome():
    for outcome in CATALOGUE.values():
        assert outcome.description and outcome.source
        assert outcome.kind in ("events", "custom", "exposure")


def test_resolve_and_register():
    assert [o.name for o in resolve("cost_per_capita, person_months")] == ["cost_per_capita", "person_months"]
    with pytest.raises(EngineInputError, match="Allowed: person_months"):
        resolve(["nope"])
    with pytest.raises(ValueError, match="already registered"):
        register(Outcome(name="cost_per_capita", description="x", source="y", scale="count"))
