"""Benchmark: Tremplin's Callaway–Sant'Anna and TWFE against csdid, differences and pyfixest.

    python benchmarks/bench_estimators.py            # 3,000 and 30,000 units x 40 periods
    python benchmarks/bench_estimators.py --quick    # 3,000 units only
    python benchmarks/bench_estimators.py --no-differences

Every measurement runs in a fresh subprocess (so peak RSS is per tool): the worker simulates the same
staggered panel (5 adoption cohorts + never treated, dynamic effects), warms the tool up on a tiny panel
(imports, numba JIT), then times the estimation call (best of the repeats) and reports the process's peak
RSS. Ratios are computed from timings measured in this run.

What is timed (same estimand for each pair):
* CS analytic: ATT(g,t) + simple and dynamic aggregations with analytic SEs (doubly robust without
  covariates). Tremplin also computes group/calendar aggregations and the pre-trend test in the same call;
  "+ uniform bands" adds the sup-t event-study band from 999 multiplier draws (Tremplin's default).
* CS bootstrap: the same with 1,000 multiplier-bootstrap draws for the SEs.
* TWFE: coefficient and CR1 SE clustered by unit (Tremplin without the Goodman-Bacon diagnostic, which is
  timed separately as "TWFE + Bacon + CS check").
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import warnings

import numpy as np
import pandas as pd

N_PERIODS = 40
COHORTS = (0, 11, 16, 21, 26, 31)


def simulate(n_units: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = rng.choice(COHORTS, size=n_units, p=[0.3, 0.14, 0.14, 0.14, 0.14, 0.14])
    t = np.arange(1, N_PERIODS + 1)
    e = t[None, :] - g[:, None]
    tau = np.where((g[:, None] > 0) & (e >= 0), 1.0 + 0.05 * e, 0.0)
    y = rng.normal(size=(n_units, 1)) + 0.1 * t[None, :] + tau + rng.normal(size=(n_units, N_PERIODS))
    return pd.DataFrame({
        "unit": np.repeat(np.arange(n_units), N_PERIODS),
        "time": np.tile(t, n_units),
        "cohort": np.repeat(g, N_PERIODS),
        "y": y.ravel(),
    })


# ------------------------------------------------------------------------------------------ tools


def run_tremplin_cs(df: pd.DataFrame, bootstrap: int | None, band_draws: int = 0) -> float:
    from tremplin.engine.estimators.staggered import callaway_santanna

    res = callaway_santanna(df, outcome="y", unit="unit", time="time", cohort="cohort", estimation="dr",
                            bootstrap=bootstrap, band_draws=band_draws, seed=1)
    return res.att.estimate


def run_csdid(df: pd.DataFrame, bootstrap: int | None) -> float:
    from csdid.att_gt import ATTgt

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = ATTgt(yname="y", gname="cohort", idname="unit", tname="time", data=df, biters=bootstrap or 1000)
        m.fit(est_method="dr", bstrap=bool(bootstrap))
        import contextlib
        import io

        with contextlib.redirect_stdout(io.StringIO()):
            simple = m.aggte(typec="simple").atte["overall_att"]
            m.aggte(typec="dynamic")
    return float(simple)


def run_differences(df: pd.DataFrame, bootstrap: int | None) -> float:
    from differences import ATTgt

    d = df.assign(cohort=df["cohort"].where(df["cohort"] > 0)).set_index(["unit", "time"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        att = ATTgt(data=d, cohort_column="cohort")
        att.fit(formula="y", est_method="dr", control_group="never_treated", progress_bar=False,
                boot_iterations=bootstrap or 0, random_state=1)
        simple = att.aggregate("simple", boot_iterations=bootstrap or 0)
        att.aggregate("event", boot_iterations=bootstrap or 0)
    return float(simple.iloc[0, 0])


def run_tremplin_twfe(df: pd.DataFrame, bacon: bool) -> float:
    from tremplin.engine.estimators.twfe import TwoWayFE

    res = TwoWayFE("twfe", bacon=bacon).fit(df, outcome="y", unit="unit", time="time", cohort="cohort")
    return res.att.estimate


def run_pyfixest(df: pd.DataFrame) -> float:
    import pyfixest as pf

    d = df.assign(d=((df["cohort"] > 0) & (df["time"] >= df["cohort"])).astype(float))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = pf.feols("y ~ d | unit + time", data=d, vcov={"CRV1": "unit"})
        return float(m.coef()["d"]) + 0.0 * float(m.se()["d"])


def run_baseline(df: pd.DataFrame) -> float:
    """Imports and the simulated panel only: the RSS floor shared by every worker."""
    import scipy.stats  # noqa: F401

    return float(df["y"].mean())


TOOLS = {
    "baseline": run_baseline,
    "tremplin_cs": lambda df: run_tremplin_cs(df, None),
    "tremplin_cs_bands": lambda df: run_tremplin_cs(df, None, 999),
    "tremplin_cs_boot": lambda df: run_tremplin_cs(df, 1000),
    "csdid": lambda df: run_csdid(df, None),
    "csdid_boot": lambda df: run_csdid(df, 1000),
    "differences": lambda df: run_differences(df, None),
    "tremplin_twfe": lambda df: run_tremplin_twfe(df, False),
    "tremplin_twfe_bacon": lambda df: run_tremplin_twfe(df, True),
    "pyfixest": run_pyfixest,
}


def worker(tool: str, n_units: int, repeats: int) -> None:
    fn = TOOLS[tool]
    fn(simulate(200, seed=99))  # warm-up: imports, JIT
    df = simulate(n_units)
    best = np.inf
    value = float("nan")
    for _ in range(repeats):
        t0 = time.perf_counter()
        value = fn(df)
        best = min(best, time.perf_counter() - t0)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": best, "peak_mb": peak_mb, "value": value}))


def profile_tremplin(n_units: int, repeats: int = 3) -> dict[str, float]:
    """Time Tremplin's CS kernels separately, best of `repeats` (to say which one dominates)."""
    from tremplin.engine.estimators.panel_input import build_panel
    from tremplin.engine.estimators.staggered import aggregate, compute_att_gt, influence_standard_errors
    from tremplin.engine.inference import multiplier_bootstrap

    df = simulate(n_units)
    out: dict[str, float] = {}

    def timed(name, fn):
        t0 = time.perf_counter()
        value = fn()
        out[name] = min(out.get(name, np.inf), time.perf_counter() - t0)
        return value

    for _ in range(repeats):
        panel = timed("pivot to wide arrays", lambda: build_panel(df, outcome="y", unit="unit", time="time",
                                                                  cohort="cohort"))
        gt = timed("ATT(g,t) + influence functions",
                   lambda p=panel: compute_att_gt(p.y, p.times, p.cohort, estimation="dr"))
        blocks = timed("aggregations (4 kinds)", lambda g=gt: [g.influence] + [
            aggregate(g, k).influence(g) for k in ("dynamic", "group", "calendar")])
        timed("analytic SEs (second moments)",
              lambda b=blocks, g=gt: [influence_standard_errors(x, g.n_units) for x in b])
        timed("multiplier bootstrap 1000 draws", lambda b=blocks, g=gt: multiplier_bootstrap(
            b, None, n_units=g.n_units, n_boot=1000, seed=1, n_clusters=g.influence.n_clusters))
    out["_cells"] = gt.att.size
    out["_columns"] = sum(b.n_params for b in blocks)
    return out


def measure(tool: str, n_units: int, repeats: int) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--worker", tool, str(n_units), str(repeats)],
                          capture_output=True, text=True, check=False, timeout=1800)
    if proc.returncode != 0:
        return {"seconds": float("nan"), "peak_mb": float("nan"), "value": float("nan"),
                "error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker", nargs=3, metavar=("TOOL", "N", "REPEATS"))
    parser.add_argument("--quick", action="store_true", help="only 3,000 units")
    parser.add_argument("--no-differences", action="store_true")
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], int(args.worker[1]), int(args.worker[2]))
        return

    sizes = [3000] if args.quick else [3000, 30000]
    rows = []
    for n in sizes:
        rep_fast, rep_slow = (5, 2) if n <= 3000 else (3, 1)
        r = {tool: measure(tool, n, rep_fast if tool.startswith("tremplin") or tool == "pyfixest" else rep_slow)
             for tool in TOOLS if not (tool == "differences" and args.no_differences)}
        rows.append((n, r))

    print(f"\nStaggered panel, {N_PERIODS} periods, cohorts {COHORTS[1:]} + never treated "
          "(times: best of repeats, each tool in its own process; peak RSS of that process)\n")
    header = f"{'units':>7} {'comparison':<34} {'tremplin':>10} {'peer':>10} {'speed-up':>9} " \
             f"{'RSS tremplin':>13} {'RSS peer':>9}  {'same estimate':>13}"
    print(header)
    print("-" * len(header))
    pairs = [
        ("CS analytic vs csdid", "tremplin_cs", "csdid", 1e-6),
        ("CS analytic + uniform bands vs csdid", "tremplin_cs_bands", "csdid", 1e-6),
        ("CS bootstrap 1000 vs csdid", "tremplin_cs_boot", "csdid_boot", 1e-6),
        ("CS analytic vs differences", "tremplin_cs", "differences", 1e-6),
        ("TWFE vs pyfixest", "tremplin_twfe", "pyfixest", 1e-6),
        ("TWFE + Bacon + CS check vs pyfixest", "tremplin_twfe_bacon", "pyfixest", 1e-6),
    ]
    for n, r in rows:
        for label, ours, peer, tol in pairs:
            if peer not in r:
                continue
            a, b = r[ours], r[peer]
            same = abs(a["value"] - b["value"]) < tol
            speed = b["seconds"] / a["seconds"]
            print(f"{n:>7} {label:<34} {a['seconds']:>9.3f}s {b['seconds']:>9.3f}s {speed:>8.1f}x "
                  f"{a['peak_mb']:>11.0f}MB {b['peak_mb']:>7.0f}MB  {'yes' if same else 'NO':>13}"
                  + (f"  ({b.get('error')})" if b.get("error") else ""))
    for n, r in rows:
        if "baseline" in r:
            print(f"{n:>7} baseline RSS (interpreter, imports, simulated long panel; included above): "
                  f"{r['baseline']['peak_mb']:.0f}MB")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print("\nGoals: CS >= 10x faster than csdid (analytic and bootstrap) and < 500 MB at 30,000 units; "
          "TWFE no slower than pyfixest with identical coefficients.")

    prof = profile_tremplin(sizes[-1])
    cells, cols = prof.pop("_cells"), prof.pop("_columns")
    print(f"\nTremplin CS kernels at {sizes[-1]} units ({cells} ATT(g,t) cells, {cols} influence-function columns):")
    total = sum(prof.values())
    for k, v in prof.items():
        print(f"  {k:<36} {v:7.3f}s  ({100 * v / total:4.1f} %)")
    top = max(prof, key=prof.get)
    print(
        f"Dominant kernel: {top}. Without covariates every influence function has the form "
        "IF_i = w_i (Y_i . beta[cohort_i] + kappa[cohort_i]), so it is never materialised: analytic SEs come "
        "from per-cohort second moments (cost independent of n once the T x T Gram matrices are built) and "
        "the bootstrap needs only the per-cohort draw-weighted sums draws (B x n_cohort) @ (w*Y) (n_cohort x T), "
        "i.e. B*n*T multiply-adds (BLAS) instead of csdid's B*n*cells, plus 1 random bit per unit and draw. "
        "What remains is pivoting the long data frame to wide arrays (pandas factorize), which dominates "
        "analytic estimation; with 2 busy cores multithreaded BLAS calls also suffer from oversubscription."
    )


if __name__ == "__main__":
    main()
