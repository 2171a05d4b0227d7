"""Synthetic generator: reproducible by seed, bounded chunks, ground truth equal to the data."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from tremplin.engine import schemas
from tremplin.engine.codelists import is_avoidable
from tremplin.engine.errors import EngineInputError
from tremplin.engine.generator import CHUNK_PERSONS, generate_region
from tremplin.engine.panel import build_panel

SMALL = {"persons": 4000, "territories": 12, "years": 3, "treated_share": 0.5}


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """The same region with a strong planted effect and without it (the exact counterfactual)."""
    base = tmp_path_factory.mktemp("gen")
    treated = generate_region(base / "treated", seed=11, effect=-0.5, effect_growth=0.5, **SMALL)
    control = generate_region(base / "control", seed=11, effect=0.0, **SMALL)
    return treated, control


def _tables(path):
    return {name: pq.read_table(path / f"{name}.parquet") for name in schemas.SCHEMAS}


def test_same_seed_same_data_and_other_seed_other_data(tmp_path):
    a = generate_region(tmp_path / "a", seed=3, **SMALL)
    b = generate_region(tmp_path / "b", seed=3, **SMALL)
    c = generate_region(tmp_path / "c", seed=4, **SMALL)
    ta, tb, tc = _tables(a.out_dir), _tables(b.out_dir), _tables(c.out_dir)
    for name in schemas.SCHEMAS:
        assert ta[name].equals(tb[name]), name
    assert not ta["care_events"].equals(tc["care_events"])
    assert json.loads(a.truth_path.read_text()) == json.loads(b.truth_path.read_text())


def test_tables_follow_the_schemas(pair):
    treated, _ = pair
    tables = _tables(treated.out_dir)
    for name, schema in schemas.SCHEMAS.items():
        assert tables[name].schema.equals(schema), name
    events = tables["care_events"]
    assert events.num_rows == treated.events
    assert set(pc.unique(events["setting"]).to_pylist()) == set(schemas.SETTINGS)
    assert pc.count_distinct(events["event_id"]).as_py() == events.num_rows
    assert tables["persons"].num_rows == SMALL["persons"]


def test_staggered_cohorts_in_truth(pair):
    truth = json.loads(pair[0].truth_path.read_text())
    starts = {i["start_date"] for i in truth["interventions"]}
    assert len(truth["interventions"]) == round(SMALL["treated_share"] * SMALL["territories"])
    assert len(starts) >= 2  # staggered
    assert all(c["territories"] for c in truth["cohorts"])


def test_planted_effect_equals_truth_against_the_counterfactual_run(pair):
    treated, control = pair
    truth = json.loads(treated.truth_path.read_text())
    ev_t = pq.read_table(treated.out_dir / "care_events.parquet")
    ev_c = pq.read_table(control.out_dir / "care_events.parquet")
    persons = pq.read_table(treated.out_dir / "persons.parquet").to_pandas().set_index("person_id")

    def avoidable_by_territory_month(events):
        df = events.filter(pc.equal(events["setting"], "inpatient")).to_pandas()
        df["age"] = df.event_date.map(lambda d: d.year) - persons.loc[df.person_id, "birth_year"].to_numpy()
        df = df[[is_avoidable(c, a) for c, a in zip(df.icd10, df.age, strict=True)]]
        df["territory_id"] = persons.loc[df.person_id, "territory_id"].to_numpy()
        df["month"] = df.event_date.map(lambda d: (d.year - 2019) * 12 + d.month)
        return df.groupby(["territory_id", "month"]).size()

    with_, without = avoidable_by_territory_month(ev_t), avoidable_by_territory_month(ev_c)
    delta = with_.sub(without, fill_value=0)
    treated_ids = {i["territory_id"]: i["start_month"] for i in truth["interventions"]}
    # No difference outside treated territory-months.
    for (territory, month), d in delta.items():
        if d != 0:
            assert territory in treated_ids and month >= treated_ids[territory]
    # Per cohort and month, the truth's event counts match the two runs exactly.
    for row in truth["att"]:
        units = next(c["territories"] for c in truth["cohorts"] if c["start_month"] == row["cohort_start_month"])
        got = sum(with_.get((u, row["month"]), 0) for u in units)
        base = sum(without.get((u, row["month"]), 0) for u in units)
        assert got == row["events_with_intervention"]
        assert base == row["events_without_intervention"]
    removed = sum(r["events_without_intervention"] - r["events_with_intervention"] for r in truth["att"])
    total = sum(r["events_without_intervention"] for r in truth["att"])
    assert total > 0 and 0.5 < removed / total < 0.95  # -50 % growing with exposure


def test_truth_att_matches_panel_difference(pair):
    treated, control = pair
    truth = json.loads(treated.truth_path.read_text())
    kw = {"outcomes": ["avoidable_hospitalisations"], "period": "month"}
    pt = build_panel(treated.out_dir, **kw).to_pandas().set_index(["unit_id", "period"])
    pc_ = build_panel(control.out_dir, **kw).to_pandas().set_index(["unit_id", "period"])
    assert (pt.persons_at_risk == pc_.persons_at_risk).all()
    diff = (pt.avoidable_hospitalisations - pc_.avoidable_hospitalisations).fillna(0.0)
    for row in truth["att"]:
        units = next(c["territories"] for c in truth["cohorts"] if c["start_month"] == row["cohort_start_month"])
        assert np.mean([diff.loc[(u, row["month"])] for u in units]) == pytest.approx(row["att"], abs=1e-9)
    # Cohorts in the panel come from truth.json.
    cohorts = pt.reset_index().groupby("unit_id").cohort.first()
    for i in truth["interventions"]:
        assert cohorts[i["territory_id"]] == i["start_month"]
    assert (cohorts[~cohorts.index.isin([i["territory_id"] for i in truth["interventions"]])] == 0).all()


def test_chunking_covers_several_chunks(tmp_path):
    result = generate_region(tmp_path / "big", persons=CHUNK_PERSONS + 500, territories=30, years=2, seed=1)
    persons = pq.read_table(result.out_dir / "persons.parquet")
    assert persons.num_rows == CHUNK_PERSONS + 500
    assert pq.ParquetFile(result.out_dir / "care_events.parquet").num_row_groups >= 2
    assert pc.count_distinct(persons["person_id"]).as_py() == persons.num_rows


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"years": 1}, "`years`"),
        ({"treated_share": 1.5}, "`treated_share`"),
        ({"outcome": "nope"}, "allowed values are 'avoidable_hospitalisations'"),
        ({"effect": -2.0}, "`effect`"),
        ({"format": "xml"}, "allowed values are 'ours', 'omop'"),
    ],
)
def test_bad_options_are_clear_errors_and_write_nothing(tmp_path, kwargs, message):
    options = {**SMALL, "seed": 1, **kwargs}
    with pytest.raises(EngineInputError, match=message):
        generate_region(tmp_path / "out", **options)
    assert not (tmp_path / "out").exists()


def test_refuses_a_non_empty_directory(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    with pytest.raises(EngineInputError, match="not empty"):
        generate_region(tmp_path / "out", seed=1, **SMALL)
    assert (tmp_path / "out" / "keep.txt").read_text() == "mine"


def test_progress_is_reported(tmp_path):
    seen = []
    generate_region(tmp_path / "p", seed=2, progress=lambda f, m: seen.append((f, m)), **SMALL)
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
