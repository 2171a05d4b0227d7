"""Panel building: equal to a straightforward pandas computation, identical on DuckDB and Spark.

Every test that builds a panel takes the `backend` fixture and runs on each backend (ibis style); what a
backend does not implement is marked `@pytest.mark.notimpl(["spark"], reason=..., raises=...)`, an expected
failure that must keep failing (strict), so that a gap closed is noticed.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import shutil

import numpy as np
import pandas as pd
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from tests.conftest import require
from tremplin.engine import schemas
from tremplin.engine.codelists import is_avoidable
from tremplin.engine.errors import EngineInputError
from tremplin.engine.generator import generate_region
from tremplin.engine.outcomes import CATALOGUE
from tremplin.engine.panel import PanelBuilder, build_panel, period_grid

ALL = list(CATALOGUE)


@pytest.fixture(scope="session")
def spark():
    require(
        shutil.which("java") is not None and importlib.util.find_spec("pyspark") is not None,
        "Spark tests need Java and pyspark",
    )
    from tremplin.engine.panel import spark_session

    session = spark_session("tremplin-tests")
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(params=["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def backend(request):
    """Engine name and keyword arguments: the same tests run on every backend (ibis style)."""
    for marker in request.node.iter_markers("notimpl"):
        if request.param in marker.args[0]:
            request.applymarker(pytest.mark.xfail(reason=f"{request.param}: {marker.kwargs['reason']}",
                                                  raises=marker.kwargs.get("raises"), strict=True))
    if request.param == "spark":
        return {"engine": "spark", "spark": request.getfixturevalue("spark")}
    return {"engine": "duckdb"}


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    path = tmp_path_factory.mktemp("panel") / "region"
    generate_region(path, persons=1500, territories=6, years=2, seed=5, treated_share=0.5, effect=-0.3)
    return path


def reference_panel(data_dir, period: str = "month", unit: str = "territory") -> pd.DataFrame:
    """The panel computed the obvious way with pandas, one period at a time."""
    t = {n: pq.read_table(data_dir / f"{n}.parquet").to_pandas() for n in schemas.SCHEMAS}
    persons, obs, ev = t["persons"], t["observation_periods"], t["care_events"]
    if unit == "parent":
        parents = t["territories"].set_index("territory_id").parent_id
        persons = persons.assign(territory_id=persons.territory_id.map(parents).astype("int64"))
    grid = period_grid(period, obs.start.min(), obs.end.max())
    persons = persons.set_index("person_id")
    obs = obs.join(persons[["territory_id", "sex", "birth_year"]], on="person_id")
    ev = ev[(ev.event_date >= grid.start) & (ev.event_date <= grid.end)]
    ev = ev.join(persons[["territory_id", "birth_year"]], on="person_id")
    ev["period"] = [grid.index_of(d) for d in ev.event_date]
    ev["age"] = [d.year for d in ev.event_date] - ev.birth_year
    ev["avoidable"] = [
        is_avoidable(c, a) if s == "inpatient" else False for c, a, s in zip(ev.icd10, ev.age, ev.setting, strict=True)
    ]
    # Readmissions: stay followed by an admission within 30 days of discharge.
    stays = ev[ev.setting == "inpatient"].sort_values(["person_id", "event_date", "event_id"]).copy()
    stays["next"] = stays.groupby("person_id").event_date.shift(-1)
    stays["readmitted"] = [
        nxt is not None and not pd.isna(nxt) and (nxt - d).days <= los + 30
        for nxt, d, los in zip(stays.next, stays.event_date, stays.length_of_stay_days, strict=True)
    ]
    acts = ev[ev.act_code.notna()].sort_values(["person_id", "act_code", "event_date", "event_id"]).copy()
    acts["prev"] = acts.groupby(["person_id", "act_code"]).event_date.shift(1)
    acts["redundant"] = [
        prev is not None and not pd.isna(prev) and (d - prev).days <= 7
        for prev, d in zip(acts.prev, acts.event_date, strict=True)
    ]
    rows = []
    for unit_id in sorted(persons.territory_id.unique()):
        o = obs[obs.territory_id == unit_id]
        for p, (s, e) in enumerate(zip(grid.starts, grid.ends, strict=True), start=1):
            at = o[(o.start <= e) & (o.end >= s)]
            n = len(at)
            days = sum((min(b, e) - max(a, s)).days + 1 for a, b in zip(at.start, at.end, strict=True))
            x = ev[(ev.territory_id == unit_id) & (ev.period == p)]
            st = stays[(stays.territory_id == unit_id) & (stays.period == p)]
            ac = acts[(acts.territory_id == unit_id) & (acts.period == p)]

            def rate(count, scale, n=n):
                return count * scale / n if n else np.nan

            rows.append(
                {
                    "unit_id": unit_id,
                    "period": p,
                    "period_start": s,
                    "persons_at_risk": n,
                    "person_months": days / (365.25 / 12),
                    "hospitalisation_rate": rate((x.setting == "inpatient").sum(), 1000),
                    "emergency_visit_rate": rate((x.setting == "emergency").sum(), 1000),
                    "avoidable_hospitalisations": rate(x.avoidable.sum(), 1000),
                    "readmissions_30d": 100 * st.readmitted.sum() / len(st) if len(st) else np.nan,
                    "cost_per_capita": rate(x.cost_eur.fillna(0).sum(), 1),
                    "outpatient_visits_per_capita": rate((x.setting == "outpatient").sum(), 1),
                    "redundant_acts": rate(ac.redundant.sum(), 1000),
                    "share_female": (at.sex == "F").sum() / n if n else np.nan,
                    "mean_age": s.year - at.birth_year.mean() if n else np.nan,
                }
            )
    return pd.DataFrame(rows)


def _compare(got: pd.DataFrame, want: pd.DataFrame):
    got = got.reset_index(drop=True)
    for col in want.columns:
        if col in ("unit_id", "period", "persons_at_risk"):
            assert (got[col].to_numpy() == want[col].to_numpy()).all(), col
        elif col == "period_start":
            assert list(got[col]) == list(want[col])
        else:
            np.testing.assert_allclose(
                got[col].to_numpy(float), want[col].to_numpy(float), rtol=1e-9, atol=1e-9, err_msg=col
            )


@pytest.mark.parametrize("period", ["month", "quarter", "year"])
def test_panel_equals_pandas_reference(region, period, backend):
    got = build_panel(region, period=period, outcomes=ALL, **backend).to_pandas()
    want = reference_panel(region, period)
    assert len(got) == len(want) > 0 and set(want.columns) <= set(got.columns)
    _compare(got, want)  # every column equal (integers exactly, rates to 1e-9)


def test_parent_units_equal_pandas_reference(region, backend):
    got = build_panel(region, unit="parent", period="quarter", outcomes=ALL, **backend).to_pandas()
    want = reference_panel(region, "quarter", unit="parent")
    assert len(got) == len(want) > 0 and got["unit_id"].nunique() < reference_panel(region, "quarter")["unit_id"].nunique()
    _compare(got, want)  # every column equal (integers exactly, rates to 1e-9)


def test_panel_contract_columns_and_cohorts(region, backend):
    table = build_panel(region, outcomes=["avoidable_hospitalisations", "cost_per_capita"], **backend)
    assert table.column_names[:4] == ["unit_id", "period", "period_start", "persons_at_risk"]
    assert table.column_names[-1] == "cohort"
    df = table.to_pandas()
    periods = sorted(df.period.unique())
    assert periods == list(range(1, len(periods) + 1))
    assert len(df) == df.unit_id.nunique() * len(periods)
    cohorts = df.groupby("unit_id").cohort.nunique()
    assert (cohorts == 1).all()
    assert set(df.cohort.unique()) - {0}  # some treated units
    assert df.period_start.iloc[0] == dt.date(2019, 1, 1)


def _assert_same(x, y):
    """Same schema, same integers and dates, floats equal up to summation order (1e-12)."""
    assert x.schema.equals(y.schema)
    for name in x.column_names:
        a, b = x[name].to_numpy(zero_copy_only=False), y[name].to_numpy(zero_copy_only=False)
        if a.dtype.kind == "f":
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, err_msg=name)
        else:
            assert (a == b).all(), name


@pytest.mark.spark
def test_duckdb_and_spark_panels_are_identical(region, spark):
    duck = build_panel(region, outcomes=ALL, period="quarter", engine="duckdb")
    sp = build_panel(region, outcomes=ALL, period="quarter", engine="spark", spark=spark)
    _assert_same(duck, sp)


def test_panel_on_csv_equals_parquet(region, tmp_path, backend):
    csv_dir = tmp_path / "csv"
    csv_dir.mkdir()
    for name in schemas.SCHEMAS:
        pacsv.write_csv(pq.read_table(region / f"{name}.parquet"), csv_dir / f"{name}.csv")
    shutil.copy(region / "truth.json", csv_dir / "truth.json")
    a = build_panel(region, outcomes=ALL, **backend)
    b = build_panel(csv_dir, outcomes=ALL, **backend)
    _assert_same(a, b)


def test_interventions_file_overrides_truth(region, tmp_path, backend):
    data = tmp_path / "data"
    shutil.copytree(region, data)
    (data / "truth.json").unlink()
    (data / "interventions.csv").write_text("unit_id,start_date\n2,2019-07-15\n3,2030-01-01\n")
    df = build_panel(data, outcomes=["hospitalisation_rate"], period="quarter", **backend).to_pandas()
    cohort = df.groupby("unit_id").cohort.first()
    assert cohort[2] == 3  # Q3 2019 is the third quarter of the window
    assert cohort[3] == 0  # starts after the window: never treated within it
    assert (cohort.drop([2, 3]) == 0).all()


def test_out_writes_parquet_atomically(region, tmp_path, backend):
    out = tmp_path / "panel.parquet"
    table = build_panel(region, outcomes=["person_months"], out=out, **backend)
    assert pq.read_table(out).equals(table)
    assert [p.name for p in tmp_path.iterdir()] == ["panel.parquet"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"outcomes": "nope"}, "Allowed: person_months"),
        ({"period": "week"}, "allowed values are 'month', 'quarter', 'year'"),
        ({"engine": "polars"}, "allowed values are 'duckdb', 'spark'"),
        ({"unit": "hospital"}, "allowed values are 'territory', 'parent'"),
    ],
)
def test_bad_options_are_clear_errors(region, kwargs, message, backend):
    with pytest.raises(EngineInputError, match=message):
        build_panel(region, **{**backend, **kwargs})


def test_missing_directory_is_a_clear_error(tmp_path, backend):
    with pytest.raises(EngineInputError, match="not found"):
        build_panel(tmp_path / "nothing", **backend)


@pytest.mark.notimpl(["spark"], reason="a damaged Parquet file is turned into a clear error on DuckDB only")
def test_a_damaged_parquet_file_is_a_clear_error_and_writes_nothing(region, tmp_path, backend):
    damaged = tmp_path / "damaged"
    shutil.copytree(region, damaged)
    events = damaged / "care_events.parquet"
    events.write_bytes(events.read_bytes()[: events.stat().st_size // 2])  # cut in the middle: no footer
    out = tmp_path / "panel.parquet"
    out.write_bytes(b"the previous panel")
    with pytest.raises(EngineInputError, match=r"care_events\.parquet.*tremplin validate"):
        build_panel(damaged, outcomes=ALL, out=out, **backend)
    assert out.read_bytes() == b"the previous panel" and sorted(p.name for p in tmp_path.iterdir()) == [
        "damaged", "panel.parquet"]
    assert build_panel(region, outcomes=ALL, **backend).num_rows > 0  # the next build on good files works


def test_rebuild_after_the_files_change_in_place(tmp_path, backend):
    """Panel builds reuse a DuckDB connection and compiled SQL: a dataset rewritten at the same path must
    give the new panel, not a cached one."""
    from tremplin.engine.generator import generate_region

    data = tmp_path / "region"
    generate_region(data, persons=800, territories=4, years=2, seed=1, overwrite=True)
    first = build_panel(data, outcomes=ALL, **backend)
    _compare(first.to_pandas(), reference_panel(data))
    generate_region(data, persons=1200, territories=4, years=2, seed=2, overwrite=True)
    second = build_panel(data, outcomes=ALL, **backend)
    _compare(second.to_pandas(), reference_panel(data))
    assert second["persons_at_risk"].to_pylist() != first["persons_at_risk"].to_pylist()


def test_rebuild_after_a_column_changes_type_in_place(tmp_path, backend):
    """The compiled query is kept per connection: a table rewritten with another column type must still work."""
    import pyarrow.parquet as pq

    from tremplin.engine.generator import generate_region

    data = tmp_path / "region"
    generate_region(data, persons=600, territories=3, years=2, seed=3, overwrite=True)
    first = build_panel(data, outcomes=ALL, **backend)
    persons = pq.read_table(data / "persons.parquet")
    i = persons.schema.get_field_index("birth_year")
    persons = persons.set_column(i, "birth_year", persons["birth_year"].cast("int64" if
                                 persons.schema.field(i).type != "int64" else "int32"))
    pq.write_table(persons, data / "persons.parquet")
    second = build_panel(data, outcomes=ALL, **backend)
    assert second.equals(first)


@pytest.mark.notimpl(["spark"], reason="the builder's caches are DuckDB's; a Spark build compiles every time",
                     raises=AssertionError)
def test_a_second_build_of_the_same_shape_reuses_the_compiled_query(region, backend):
    """Compiling the Ibis expression costs about a third of a 10 M-event build: it must happen once per shape
    and builder; the builder's caches are its own and emptied when it is closed."""
    with PanelBuilder() as builder:
        first = builder.build(region, outcomes=ALL, **backend)
        cached = builder.cache_info()
        assert cached == {"compiled": 1, "views": 1, "sources": 4, "file_versions": 1}
        again = builder.build(region, outcomes=ALL, **backend)
        assert builder.cache_info() == cached
        builder.build(region, outcomes=ALL, period="quarter", **backend)  # another shape: compiled once more
        assert builder.cache_info()["compiled"] == 2
    assert builder.cache_info() == {"compiled": 0, "views": 0, "sources": 0, "file_versions": 0}
    assert again.equals(first) and first.equals(build_panel(region, outcomes=ALL, **backend))
    assert builder.build(region, outcomes=ALL, **backend).equals(first)  # a closed builder reconnects
    builder.close()


@pytest.mark.parametrize("kind", ["month", "quarter", "year"])
def test_period_index_of_every_day_matches_the_grid(kind):
    import datetime as dt

    from tremplin.engine.panel import period_grid

    grid = period_grid(kind, dt.date(2019, 2, 3), dt.date(2022, 5, 1))
    day = dt.date(2018, 12, 1)
    while day <= dt.date(2023, 2, 1):
        expected = next((i + 1 for i, (s, e) in enumerate(zip(grid.starts, grid.ends, strict=True)) if s <= day <= e),
                        0 if day < grid.start else grid.count + 1)
        assert grid.index_of(day) == expected, day
        day += dt.timedelta(days=1)
