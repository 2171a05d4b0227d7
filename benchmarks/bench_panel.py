"""Panel building benchmark: Tremplin's Ibis expression on DuckDB against peers, in the same run.

    python benchmarks/bench_panel.py            # 10 M events (1,000 territories x 5 years)
    BENCH_LARGE=1 python benchmarks/bench_panel.py   # also 100 M events
    BENCH_SPARK=0 ...                           # skip Spark
    BENCH_DIR=/path ...                         # where generated data is cached (default: /tmp)

Every peer computes the same "comparable panel" (territory x month: persons at risk, inpatient,
emergency, potentially avoidable and outpatient counts, cost) from the same Parquet files, in its
own subprocess; peak RSS is the process tree's resident memory sampled with psutil. Results are
cross-checked (same totals) before times are printed, with ratios to Tremplin's path. Tremplin's panel
also carries rates, covariates (female share, mean age), period dates and cohorts, in order: a second
hand-written DuckDB query produces exactly that output, to show what the Ibis compilation itself costs.
    BENCH_REPEATS=N ...                         # warm rounds per engine (default 5, best kept)
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve()
EVENTS_PER_PERSON = 86.0  # the generator's mean over 5 years
COMPARABLE = [
    "hospitalisation_rate",
    "emergency_visit_rate",
    "avoidable_hospitalisations",
    "cost_per_capita",
    "outpatient_visits_per_capita",
]
EVENT_COLUMNS = ["person_id", "event_date", "setting", "icd10", "cost_eur"]


def dataset(events: int) -> Path:
    base = Path(os.environ.get("BENCH_DIR", "/tmp")) / f"tremplin-bench-{events // 1_000_000}M"
    if (base / "care_events.parquet").is_file():
        return base
    from tremplin.engine.generator import generate_region

    print(f"Generating {events:,} events in {base} ...", flush=True)
    generate_region(base, persons=int(events / EVENTS_PER_PERSON), territories=1000, years=5, seed=1, overwrite=True)
    return base


# ---------------------------------------------------------------------------------------------------
# Workers (each runs in its own process); each returns the totals used for cross-checking.


def _avoidable_rules():
    from tremplin.engine.codelists import avoidable_codes

    rules: dict[tuple, dict[int, list[str]]] = {}
    for c in avoidable_codes():
        rules.setdefault((c.min_age or 0, c.max_age or 200), {}).setdefault(len(c.icd10_prefix), []).append(
            c.icd10_prefix
        )
    return rules


@functools.cache  # once per process, as Tremplin keeps the window per version of the files
def _window(data: Path):
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    obs = pq.read_table(data / "observation_periods.parquet")
    return pc.min(obs["start"]).as_py(), pc.max(obs["end"]).as_py()


_BUILDER: dict = {}


def worker_tremplin_duckdb(data: Path) -> dict:
    from tremplin.engine.panel import PanelBuilder

    # the worker is the caller that builds panels again and again: it keeps one builder (connection and
    # compiled query) for the whole process, as a service would
    builder = _BUILDER.setdefault("duckdb", PanelBuilder())
    t = builder.build(data, outcomes=COMPARABLE).to_pandas()
    return _totals_from_rates(t)


_SPARK: dict = {}


def worker_tremplin_spark(data: Path) -> dict:
    from tremplin.engine.panel import build_panel, spark_session

    out_extra = {}
    if "session" not in _SPARK:  # the first call starts the session (timed apart)
        t0 = time.perf_counter()
        _SPARK["session"] = spark_session("bench")
        _SPARK["session"].sparkContext.setLogLevel("ERROR")
        out_extra["_startup_seconds"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    t = build_panel(data, outcomes=COMPARABLE, engine="spark", spark=_SPARK["session"]).to_pandas()
    out = _totals_from_rates(t)
    out["_compute_seconds"] = time.perf_counter() - t1
    return {**out, **out_extra}


def _totals_from_rates(t) -> dict:
    n = t.persons_at_risk
    return {
        "cells": len(t),
        "persons_at_risk": int(n.sum()),
        "inpatient": int((t.hospitalisation_rate.fillna(0) * n / 1000).round().sum()),
        "emergency": int((t.emergency_visit_rate.fillna(0) * n / 1000).round().sum()),
        "avoidable": int((t.avoidable_hospitalisations.fillna(0) * n / 1000).round().sum()),
        "outpatient": int((t.outpatient_visits_per_capita.fillna(0) * n).round().sum()),
        "cost": round(float((t.cost_per_capita.fillna(0) * n).sum()), 0),
    }


def _events_sql(data: Path, start, end) -> str:
    """The hand-written events part (CTEs `ev` and `agg`, over a CTE `p` of persons with unit_id and birth_year):
    the avoidable-code test nested in a CASE (evaluated only on inpatient rows) and FILTER aggregates."""
    clauses = []
    for (lo, hi), by_len in _avoidable_rules().items():
        ors = " OR ".join(
            f"substr(icd10, 1, {n}) IN ({', '.join(repr(c) for c in codes)})" for n, codes in by_len.items()
        )
        clauses.append(f"(({ors}) AND age BETWEEN {lo} AND {hi})")
    avoidable = " OR ".join(clauses)
    month = f"((year(e.event_date) - {start.year}) * 12 + month(e.event_date) - {start.month} + 1)"
    return f"""ev AS (
      SELECT p.unit_id, {month} AS period, e.setting, e.icd10, e.cost_eur, year(e.event_date) - p.birth_year AS age
      FROM '{data}/care_events.parquet' e JOIN p USING (person_id)
      WHERE e.event_date BETWEEN DATE '{start}' AND DATE '{end}'),
    agg AS (
      SELECT unit_id, period,
             count(*) FILTER (WHERE setting = 'inpatient') AS inpatient,
             count(*) FILTER (WHERE setting = 'emergency') AS emergency,
             count(*) FILTER (WHERE CASE WHEN setting = 'inpatient' THEN ({avoidable}) ELSE false END) AS avoidable,
             count(*) FILTER (WHERE setting = 'outpatient') AS outpatient,
             sum(coalesce(cost_eur, 0)) AS cost
      FROM ev GROUP BY ALL),"""


def _hand_sql(data: Path) -> str:
    start, end = _window(data)
    month = f"((year(d) - {start.year}) * 12 + month(d) - {start.month} + 1)"
    # The best counts-only query we could write by hand: the events part above, and the running count of
    # persons at risk by a range join.
    return f"""
    WITH p AS (SELECT person_id, territory_id AS unit_id, birth_year FROM '{data}/persons.parquet'),
    {_events_sql(data, start, end)}
    op AS (
      SELECT p.unit_id, {month.replace("d)", "o.start)")} AS p0, {month.replace("d)", 'o."end")')} AS p1
      FROM '{data}/observation_periods.parquet' o JOIN p USING (person_id)),
    d AS (SELECT unit_id, p0 AS period, 1 AS dc FROM op UNION ALL SELECT unit_id, p1 + 1, -1 FROM op),
    grid AS (SELECT unit_id, period FROM (SELECT DISTINCT unit_id FROM p)
             CROSS JOIN range(1, {{T}} + 1) r(period)),
    dd AS (SELECT unit_id, period, sum(dc) AS dc FROM d GROUP BY ALL),
    risk AS (SELECT g.unit_id, g.period, coalesce(sum(dd.dc), 0) AS persons_at_risk FROM grid g
             LEFT JOIN dd ON dd.unit_id = g.unit_id AND dd.period <= g.period GROUP BY ALL)
    SELECT r.unit_id, r.period, r.persons_at_risk, coalesce(a.inpatient, 0) AS inpatient,
           coalesce(a.emergency, 0) AS emergency, coalesce(a.avoidable, 0) AS avoidable,
           coalesce(a.outpatient, 0) AS outpatient, coalesce(a.cost, 0) AS cost
    FROM risk r LEFT JOIN agg a USING (unit_id, period)
    """.replace("{T}", str((end.year - start.year) * 12 + end.month - start.month + 1))


def _hand_sql_full(data: Path) -> str:
    """The best query we could write by hand for Tremplin's exact output: the same columns (rates per 1,000 or per
    capita, female share, mean age, period start, cohort), observation periods clipped to the window, ordered
    rows. The reduced query above leaves those out; this one measures what the Ibis compilation itself costs."""
    from tremplin.engine.panel import cohorts_on_grid, period_grid, read_interventions

    start, end = _window(data)
    # the cohorts from the generator's truth.json, read as Tremplin reads them (inputs, not the query)
    starts = read_interventions(data, None)
    cohorts = ", ".join(f"({u}, {g})" for u, g in cohorts_on_grid(starts, period_grid("month", start, end)).items())
    cohorts = cohorts or "(NULL, NULL)"
    month = f"((year(d) - {start.year}) * 12 + month(d) - {start.month} + 1)"
    t_count = (end.year - start.year) * 12 + end.month - start.month + 1
    return f"""
    WITH p AS (SELECT person_id, territory_id AS unit_id, birth_year, coalesce((sex = 'F')::INT, 0) AS female
               FROM '{data}/persons.parquet'),
    {_events_sql(data, start, end)}
    op AS (
      SELECT p.unit_id, p.female, p.birth_year, greatest(o.start, DATE '{start}') AS s, least(o."end", DATE '{end}') AS e
      FROM '{data}/observation_periods.parquet' o JOIN p USING (person_id)),
    op2 AS (SELECT unit_id, female, birth_year, {month.replace("d)", "s)")} AS p0, {month.replace("d)", "e)")} AS p1
            FROM op WHERE s <= e),
    d AS (SELECT unit_id, period, sum(dc) AS dc, sum(df) AS df, sum(db) AS db FROM (
            SELECT unit_id, p0 AS period, 1 AS dc, female AS df, birth_year AS db FROM op2
            UNION ALL SELECT unit_id, p1 + 1, -1, -female, -birth_year FROM op2) GROUP BY ALL),
    steps AS (
      SELECT unit_id, period, sum(dc) OVER w AS dc, sum(df) OVER w AS df, sum(db) OVER w AS db,
             lead(period, 1, {t_count + 2}) OVER (PARTITION BY unit_id ORDER BY period) AS next_period
      FROM d WINDOW w AS (PARTITION BY unit_id ORDER BY period ROWS UNBOUNDED PRECEDING)),
    grid AS (SELECT unit_id, r.period, DATE '{start}' + to_months(r.period - 1) AS period_start
             FROM (SELECT DISTINCT unit_id FROM p) CROSS JOIN range(1, {t_count} + 1) r(period)),
    risk AS (SELECT g.unit_id, g.period, g.period_start, coalesce(s.dc, 0)::BIGINT AS n, coalesce(s.df, 0) AS females,
                    coalesce(s.db, 0) AS birth_years
             FROM grid g LEFT JOIN steps s ON s.unit_id = g.unit_id AND s.period <= g.period AND g.period < s.next_period),
    cohorts(unit_id, cohort) AS (VALUES {cohorts})
    SELECT r.unit_id, r.period, r.period_start::DATE AS period_start, r.n AS persons_at_risk,
      CASE WHEN r.n > 0 THEN coalesce(a.inpatient, 0) * 1000.0 / r.n END AS hospitalisation_rate,
      CASE WHEN r.n > 0 THEN coalesce(a.emergency, 0) * 1000.0 / r.n END AS emergency_visit_rate,
      CASE WHEN r.n > 0 THEN coalesce(a.avoidable, 0) * 1000.0 / r.n END AS avoidable_hospitalisations,
      CASE WHEN r.n > 0 THEN coalesce(a.cost, 0) / r.n END AS cost_per_capita,
      CASE WHEN r.n > 0 THEN coalesce(a.outpatient, 0) / r.n END AS outpatient_visits_per_capita,
      CASE WHEN r.n > 0 THEN r.females / r.n END AS share_female,
      CASE WHEN r.n > 0 THEN year(r.period_start) - r.birth_years / r.n END AS mean_age,
      coalesce(c.cohort, 0) AS cohort
    FROM risk r LEFT JOIN agg a USING (unit_id, period) LEFT JOIN cohorts c USING (unit_id)
    ORDER BY r.unit_id, r.period
    """


_DUCKDB: dict = {}


def worker_duckdb_sql(data: Path) -> dict:
    import duckdb

    if "con" not in _DUCKDB:  # one connection per process, reused like Tremplin's
        _DUCKDB["con"] = duckdb.connect()
        _DUCKDB["con"].sql("SET perfect_ht_threshold = 24")  # tuned like Tremplin's connection
    df = _DUCKDB["con"].sql(_hand_sql(data)).df()
    return _totals(df)


def worker_duckdb_sql_full(data: Path) -> dict:
    import duckdb

    if "con" not in _DUCKDB:
        _DUCKDB["con"] = duckdb.connect()
        _DUCKDB["con"].sql("SET perfect_ht_threshold = 24")
    return _totals_from_rates(_DUCKDB["con"].sql(_hand_sql_full(data)).df())


def _totals(df) -> dict:
    return {
        "cells": len(df),
        "persons_at_risk": int(df.persons_at_risk.sum()),
        "inpatient": int(df.inpatient.sum()),
        "emergency": int(df.emergency.sum()),
        "avoidable": int(df.avoidable.sum()),
        "outpatient": int(df.outpatient.sum()),
        "cost": round(float(df.cost.sum()), 0),
    }


def worker_pandas(data: Path) -> dict:
    import numpy as np
    import pandas as pd

    start, end = _window(data)
    persons = pd.read_parquet(data / "persons.parquet", columns=["person_id", "territory_id", "birth_year"])
    ev = pd.read_parquet(data / "care_events.parquet", columns=EVENT_COLUMNS)
    ev = ev.merge(persons, on="person_id")
    d = pd.to_datetime(ev.event_date)
    ev["period"] = (d.dt.year - start.year) * 12 + d.dt.month - start.month + 1
    age = d.dt.year - ev.birth_year
    avoid = np.zeros(len(ev), dtype=bool)
    icd = ev.icd10.fillna("")
    for (lo, hi), by_len in _avoidable_rules().items():
        match = np.zeros(len(ev), dtype=bool)
        for n, codes in by_len.items():
            match |= icd.str.slice(0, n).isin(codes).to_numpy()
        avoid |= match & (age >= lo).to_numpy() & (age <= hi).to_numpy()
    ev["inpatient"] = ev.setting == "inpatient"
    ev["emergency"] = ev.setting == "emergency"
    ev["outpatient"] = ev.setting == "outpatient"
    ev["avoidable"] = avoid & ev.inpatient.to_numpy()
    ev["cost"] = ev.cost_eur.fillna(0)
    agg = ev.groupby(["territory_id", "period"])[["inpatient", "emergency", "avoidable", "outpatient", "cost"]].sum()
    obs = pd.read_parquet(data / "observation_periods.parquet").merge(persons, on="person_id")
    s, e = pd.to_datetime(obs.start), pd.to_datetime(obs.end)
    p0 = (s.dt.year - start.year) * 12 + s.dt.month - start.month + 1
    p1 = (e.dt.year - start.year) * 12 + e.dt.month - start.month + 1
    t_count = (end.year - start.year) * 12 + end.month - start.month + 1
    diff = pd.concat(
        [
            pd.DataFrame({"territory_id": obs.territory_id, "period": p0, "dc": 1}),
            pd.DataFrame({"territory_id": obs.territory_id, "period": p1 + 1, "dc": -1}),
        ]
    )
    grid = pd.MultiIndex.from_product(
        [np.sort(persons.territory_id.unique()), np.arange(1, t_count + 1)], names=["territory_id", "period"]
    )
    dc = diff.groupby(["territory_id", "period"]).dc.sum().reindex(grid, fill_value=0)
    risk = dc.groupby(level=0).cumsum().rename("persons_at_risk")
    df = risk.to_frame().join(agg).fillna(0).reset_index()
    return _totals(df)


def worker_polars(data: Path) -> dict:
    import polars as pl

    start, end = _window(data)
    persons = pl.scan_parquet(data / "persons.parquet").select("person_id", "territory_id", "birth_year")
    ev = pl.scan_parquet(data / "care_events.parquet").select(EVENT_COLUMNS).join(persons, on="person_id")
    ev = ev.with_columns(
        period=(pl.col("event_date").dt.year() - start.year) * 12 + pl.col("event_date").dt.month() - start.month + 1,
        age=pl.col("event_date").dt.year() - pl.col("birth_year"),
    )
    avoid = pl.lit(False)
    for (lo, hi), by_len in _avoidable_rules().items():
        match = pl.lit(False)
        for n, codes in by_len.items():
            match = match | pl.col("icd10").str.slice(0, n).is_in(codes)
        avoid = avoid | (match & pl.col("age").is_between(lo, hi))
    inpatient = pl.col("setting") == "inpatient"
    agg = ev.group_by("territory_id", "period").agg(
        inpatient=inpatient.sum(),
        emergency=(pl.col("setting") == "emergency").sum(),
        avoidable=(inpatient & avoid.fill_null(False)).sum(),
        outpatient=(pl.col("setting") == "outpatient").sum(),
        cost=pl.col("cost_eur").fill_null(0).sum(),
    )
    obs = pl.scan_parquet(data / "observation_periods.parquet").join(persons, on="person_id")
    month = lambda c: (pl.col(c).dt.year() - start.year) * 12 + pl.col(c).dt.month() - start.month + 1  # noqa: E731
    t_count = (end.year - start.year) * 12 + end.month - start.month + 1
    diff = pl.concat(
        [
            obs.select("territory_id", period=month("start"), dc=pl.lit(1)),
            obs.select("territory_id", period=month("end") + 1, dc=pl.lit(-1)),
        ]
    )
    grid = (
        persons.select("territory_id")
        .unique()
        .join(pl.LazyFrame({"period": list(range(1, t_count + 1))}, schema={"period": pl.Int32}), how="cross")
    )
    sums = diff.group_by("territory_id", "period").agg(pl.col("dc").sum())
    risk = (
        grid.join(sums, on=["territory_id", "period"], how="left")
        .with_columns(pl.col("dc").fill_null(0))
        .sort("territory_id", "period")
        .with_columns(persons_at_risk=pl.col("dc").cum_sum().over("territory_id"))
        .filter(pl.col("period") <= t_count)
    )
    df = risk.join(agg, on=["territory_id", "period"], how="left").fill_null(0).collect().to_pandas()
    return _totals(df)


def worker_pyarrow_floor(data: Path) -> dict:
    import pyarrow.parquet as pq

    # String columns stay dictionary-encoded (as DuckDB and Polars keep them): the pure decode cost.
    table = pq.read_table(data / "care_events.parquet", columns=EVENT_COLUMNS, read_dictionary=["setting", "icd10"])
    return {"rows": table.num_rows}


PRE_IMPORTS = {
    "tremplin_duckdb": ("tremplin.engine.panel", "ibis.backends.duckdb", "pandas"),
    "tremplin_spark": ("tremplin.engine.panel", "ibis.backends.pyspark", "pandas", "pyspark.sql"),
    "duckdb_sql": ("duckdb", "pandas", "pyarrow.parquet", "tremplin.engine.codelists"),
    "duckdb_sql_full": ("duckdb", "pandas", "pyarrow.parquet", "tremplin.engine.codelists", "tremplin.engine.panel"),
    "polars": ("polars", "pandas", "pyarrow.parquet", "tremplin.engine.codelists"),
    "pandas": ("pandas", "numpy", "pyarrow.parquet", "tremplin.engine.codelists"),
    "pyarrow_floor": ("pyarrow.parquet",),
}

WORKERS = {
    "Tremplin (Ibis on DuckDB)": "tremplin_duckdb",
    "DuckDB hand-written SQL": "duckdb_sql",
    "DuckDB hand-written, same output": "duckdb_sql_full",
    "Polars lazy": "polars",
    "pandas": "pandas",
    "PyArrow decode floor": "pyarrow_floor",
    "Tremplin (Ibis on Spark local)": "tremplin_spark",
}


class Worker:
    """One engine in its own process, kept alive so that runs can be interleaved across engines
    (fairer on a shared machine); peak RSS is its process tree's resident memory, sampled."""

    def __init__(self, name: str, data: Path) -> None:
        self.name = name
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE), "--serve", name, str(data)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.ps = psutil.Process(self.proc.pid)
        self.peak = 0
        self.times: list[float] = []
        self.result: dict = {}

    def run(self) -> dict:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write("run\n")
        self.proc.stdin.flush()
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.append(self.proc.stdout.readline()))
        reader.start()
        while reader.is_alive():
            with contextlib.suppress(psutil.Error):
                rss = self.ps.memory_info().rss + sum(c.memory_info().rss for c in self.ps.children(recursive=True))
                self.peak = max(self.peak, rss)
            time.sleep(0.02)
        if not lines or not lines[0].strip():
            raise RuntimeError(f"worker {self.name} failed (exit {self.proc.poll()})")
        result = json.loads(lines[0])
        self.times.append(result.pop("_compute_seconds", result["seconds"]))
        if not self.result:
            self.result = result
        return result

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.proc.stdin.write("quit\n")  # type: ignore[union-attr]
            self.proc.stdin.flush()  # type: ignore[union-attr]
        self.proc.wait(timeout=120)


def measure(names: dict[str, str], data: Path, repeats: int) -> list[tuple[str, dict]]:
    """Cold run of every engine, then `repeats` interleaved rounds; warm = best round."""
    workers = {label: Worker(name, data) for label, name in names.items()}
    try:
        for label, w in workers.items():
            print(f"  cold run: {label} ...", flush=True)
            w.run()
        for r in range(repeats):
            for label, w in workers.items():
                if w.name == "tremplin_spark" and r > 0:
                    continue  # one warm run is enough for Spark (minutes per run)
                print(f"  round {r + 1}: {label} ...", flush=True)
                w.run()
    finally:
        for w in workers.values():
            w.close()
    rows = []
    for label, w in workers.items():
        row = dict(w.result)
        row["cold_seconds"] = w.times[0]
        row["seconds"] = min(w.times[1:]) if len(w.times) > 1 else w.times[0]
        row["peak_rss_mb"] = w.peak / 2**20
        rows.append((label, row))
    return rows


def main() -> None:
    sizes = [10_000_000] + ([100_000_000] if os.environ.get("BENCH_LARGE") == "1" else [])
    with_spark = os.environ.get("BENCH_SPARK", "1") != "0"
    for size in sizes:
        data = dataset(size)
        names = {}
        for label, name in WORKERS.items():
            if name == "tremplin_spark" and (not with_spark or size > 10_000_000):
                continue
            if name == "pandas" and size > 10_000_000 and os.environ.get("BENCH_PANDAS_LARGE") != "1":
                continue  # pandas needs ~9 GB at 100 M events; opt in with BENCH_PANDAS_LARGE=1
            names[label] = name
        rows = measure(names, data, int(os.environ.get("BENCH_REPEATS", "5")))
        skip = ("seconds", "cold_seconds", "peak_rss_mb")
        totals = {
            label: {k: v for k, v in r.items() if not k.startswith("_") and k not in skip}
            for label, r in rows
            if "cells" in r
        }
        reference = totals["Tremplin (Ibis on DuckDB)"]
        for label, t in totals.items():
            if t != reference:
                print(f"  WARNING: {label} totals differ from Tremplin's: {t} vs {reference}")
        base = dict(rows)["Tremplin (Ibis on DuckDB)"]["seconds"]
        events = dict(rows)["PyArrow decode floor"]["rows"]
        print(f"\nPanel territory x month, {events:,} events, 1,000 territories, 5 years (same run)")
        print(
            "cold = first run in a fresh process (library imports excluded); warm = best of BENCH_REPEATS "
            "rounds interleaved across engines"
        )
        print(f"{'engine':32} {'warm s':>8} {'cold s':>8} {'peak RSS MB':>12} {'warm / Tremplin':>16}")
        for label, r in rows:
            extra = f"  (+ {r['_startup_seconds']:.1f} s session start)" if "_startup_seconds" in r else ""
            print(
                f"{label:32} {r['seconds']:8.2f} {r['cold_seconds']:8.2f} {r['peak_rss_mb']:12.0f} "
                f"{r['seconds'] / base:16.2f}{extra}"
            )
        by = {label: r["seconds"] for label, r in rows}
        print("\nGoals (ratios measured above):")
        if "pandas" in by:
            print(f"  pandas / Tremplin            = {by['pandas'] / base:5.1f}x   (goal >= 10x)")
        print(f"  Polars lazy / Tremplin       = {by['Polars lazy'] / base:5.1f}x   (goal >= 2x)")
        print(f"  Tremplin / PyArrow floor     = {base / by['PyArrow decode floor']:5.1f}x   (goal <= 2.5x)")
        print(f"  Tremplin / hand-written SQL  = {base / by['DuckDB hand-written SQL']:5.2f}x   (goal <= 1.2x; that query "
              "computes counts only: no rates, covariates, period dates, cohorts or ordering)")
        print(f"  Tremplin / hand-written SQL, same output = {base / by['DuckDB hand-written, same output']:5.2f}x   "
              "(what the Ibis compilation itself costs)")
        print(f"  Tremplin peak RSS            = {dict(rows)['Tremplin (Ibis on DuckDB)']['peak_rss_mb']:.0f} MB")
        if "Tremplin (Ibis on Spark local)" in by:
            print(
                f"  Spark local / Tremplin DuckDB = {by['Tremplin (Ibis on Spark local)'] / base:5.1f}x (correctness only)"
            )


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        func = globals()[f"worker_{sys.argv[2]}"]
        for module in PRE_IMPORTS.get(sys.argv[2], ()):  # library import time is not measured
            __import__(module)
        for command in sys.stdin:
            if command.strip() != "run":
                break
            t0 = time.perf_counter()
            result = func(Path(sys.argv[3]))
            result["seconds"] = time.perf_counter() - t0
            print(json.dumps(result), flush=True)
    else:
        main()
