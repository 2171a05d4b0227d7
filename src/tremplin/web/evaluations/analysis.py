"""The analysis of a run: panel (engine) -> estimator (engine) -> headline, trends, diagnostics, figures.

Only orchestration and presentation here; every number comes from `tremplin.engine`. The estimator is any
one of the engine's registry, run through its front door (`tremplin.engine.estimate`) and read through the
interface every result satisfies (`att`, `warnings`, `figures()`, `event_time()`, `pretrend_test()`).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from tremplin.engine import EngineInputError, PanelSpec, estimate, get_estimator
from tremplin.engine.outcomes import SCALE_FACTORS, resolve
from tremplin.engine.panel import build_panel

Progress = Callable[[float, str], None]
FEW_CLUSTERS = 10  # below this many treated (or comparison) units, cluster-robust inference is fragile
PRETREND_ALPHA = 0.05


def _figure_json(fig) -> dict:
    return json.loads(fig.to_json())


def _finite(x) -> float | None:
    return None if x is None or not math.isfinite(float(x)) else float(x)


def outcome_scale(outcome: str) -> float:
    return SCALE_FACTORS.get(resolve([outcome])[0].scale, 1.0)


def group_trends(panel: pd.DataFrame, outcome: str) -> pd.DataFrame:
    """Per period and group (treated = ever treated, comparison = never treated): persons at risk,
    events (outcome x persons / scale, rounded) and the outcome rate over the group."""
    scale = outcome_scale(outcome)
    df = panel.assign(group=np.where(panel["cohort"] > 0, "treated", "comparison"))
    df = df.assign(events=df[outcome] * df["persons_at_risk"] / scale)
    out = (df.groupby(["group", "period", "period_start"], as_index=False)
           .agg(persons_at_risk=("persons_at_risk", "sum"), events=("events", "sum"), units=("unit_id", "nunique")))
    out["events"] = out["events"].round().astype("int64")
    out["rate"] = np.where(out["persons_at_risk"] > 0, scale * out["events"] / out["persons_at_risk"], np.nan)
    out["period_start"] = out["period_start"].astype(str)
    return out.sort_values(["group", "period"]).reset_index(drop=True)


def trends_figure(trends: list[dict], outcome: str, labels: dict[str, str]):
    import plotly.graph_objects as go

    fig = go.Figure()
    for group in ("treated", "comparison"):
        rows = [r for r in trends if r["group"] == group]
        fig.add_trace(go.Scatter(x=[r["period_start"] for r in rows], y=[r["rate"] for r in rows],
                                 mode="lines+markers", name=labels[group]))
    fig.update_layout(template="plotly_white", yaxis_title=labels.get("outcome", outcome), xaxis_title=labels["period"],
                      margin={"l": 50, "r": 20, "t": 30, "b": 40}, legend={"orientation": "h"})
    return fig


def headline(att: float, ci_low: float | None, ci_high: float | None, baseline: float,
             p_value: float | None = None) -> dict:
    """Effect relative to the baseline (mean outcome of treated units before their start).

    Synthetic control has no confidence interval: `ci_low`/`ci_high` are then None and the placebo
    `p_value` carries the inference.
    """
    ok = baseline and math.isfinite(baseline) and baseline > 0

    def rel(x):
        return _finite(x / baseline) if ok and x is not None else None

    return {
        "att": _finite(att),
        "ci_low": _finite(ci_low),
        "ci_high": _finite(ci_high),
        "baseline": _finite(baseline),
        "relative": rel(att),
        "relative_ci_low": rel(ci_low),
        "relative_ci_high": rel(ci_high),
        "p_value": _finite(p_value),
    }


UNIT_PERIOD = {"unit": "unit_id", "time": "period", "cohort": "cohort"}  # the engine panel's columns
RUN_OPTIONS = ("control", "bootstrap", "seed")  # a run's parameters, passed to the estimators that take them


def _event_row(e) -> dict:
    """One event-time effect for display (intervals and uniform band None where the method has none)."""
    return {"relative_period": int(e.relative_period), "estimate": _finite(e.estimate), "ci_low": _finite(e.ci_low),
            "ci_high": _finite(e.ci_high), "band_low": _finite(e.ci_low_uniform),
            "band_high": _finite(e.ci_high_uniform)}


ROBUSTNESS_SPECS: tuple[tuple[str, str, dict], ...] = (
    # key, estimator, options — the main specification is listed first by `robustness_table`.
    ("cs_never", "cs", {"control": "never", "band_draws": 0}),
    ("cs_not_yet", "cs", {"control": "not-yet", "band_draws": 0}),
    ("cs_anticipation", "cs", {"control": "never", "anticipation": 1, "band_draws": 0}),
    ("twfe", "twfe", {}),
)


def robustness_table(panel: pd.DataFrame, *, outcome: str, baseline: float, seed: int = 0) -> list[dict]:
    """The effect under alternative specifications (controls, anticipation, TWFE), relative to the baseline.

    A specification that cannot be estimated on this panel is listed with its reason instead of a number.
    """
    spec = PanelSpec(outcome=outcome, **UNIT_PERIOD)
    rows = []
    for key, estimator, options in ROBUSTNESS_SPECS:
        try:
            fit = estimate(panel, method=estimator, spec=spec, options={**options, "seed": seed})
        except (EngineInputError, ValueError, np.linalg.LinAlgError) as exc:
            rows.append({"key": key, "error": str(exc)})
            continue
        att = fit.att
        row = {"key": key, **headline(att.estimate, att.ci_low, att.ci_high, baseline)}
        row["se"] = _finite(att.se)
        row["p_value"] = _finite(att.p_value)
        rows.append(row)
    return rows


def run_analysis(
    data_dir: Path,
    *,
    outcome: str,
    estimator: str,
    period: str = "quarter",
    interventions: Path | None = None,
    seed: int = 0,
    bootstrap: int | None = None,
    control: str = "never",
    progress: Progress,
    labels: dict[str, str] | None = None,
) -> tuple[dict, dict]:
    """Run one evaluation; returns (result, timings). Deterministic for given inputs and seed."""
    labels = labels or {"treated": "treated", "comparison": "comparison", "period": "period"}
    method = get_estimator(estimator)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    progress(0.05, "panel")
    table = build_panel(data_dir, unit="territory", period=period, outcomes=[outcome], interventions=interventions,
                        progress=lambda f, m: progress(0.05 + 0.45 * f, m))
    panel = table.to_pandas()
    timings["panel"] = round(time.perf_counter() - t0, 3)
    treated_units = int(panel.loc[panel["cohort"] > 0, "unit_id"].nunique())
    comparison_units = int(panel.loc[panel["cohort"] == 0, "unit_id"].nunique())
    if treated_units == 0:
        raise ValueError("No treated unit in the panel: check the plan's territories and intervention dates.")
    if comparison_units == 0 and control == "never":
        raise ValueError("No never-treated comparison unit in the panel.")

    progress(0.55, "estimator")
    t1 = time.perf_counter()
    run_values = {"control": control, "bootstrap": bootstrap, "seed": seed}
    options = {name: run_values[name] for name in RUN_OPTIONS if name in method.options}
    options.update(method.options_for_panel(period))
    fit = estimate(panel, method=estimator, spec=PanelSpec(outcome=outcome, **UNIT_PERIOD), options=options)
    figures = fit.figures()
    figure = _figure_json(figures[method.effect_figure]) if method.effect_figure in figures else None
    pretrend = fit.pretrend_test()
    pretrend_p = None if pretrend is None else _finite(pretrend.p_value)
    event_study = [_event_row(e) for e in fit.event_time()]
    timings["estimator"] = round(time.perf_counter() - t1, 3)
    estimate_dict = fit.to_dict()  # once: the staggered synthetic control's carries every placebo average

    progress(0.9, "report")
    treated = panel[panel["cohort"] > 0]
    baseline = float(treated.loc[treated["period"] < treated["cohort"], outcome].mean())
    att = fit.att
    trends = group_trends(panel, outcome).to_dict(orient="records")
    warnings = [str(w) for w in fit.warnings]
    # Joint pre-trend check from the uniform (sup-t) band: any pre-period band excluding zero rejects at 5 %.
    pre_bands = [e for e in event_study if e["relative_period"] < 0 and e["band_low"] is not None
                 and e["band_high"] is not None]
    band_rejected = any(e["band_low"] > 0 or e["band_high"] < 0 for e in pre_bands)
    diagnostics = {
        "treated_units": treated_units,
        "comparison_units": comparison_units,
        "periods": int(panel["period"].nunique()),
        "pretrend_p_value": pretrend_p,
        "few_clusters": min(treated_units, comparison_units) < FEW_CLUSTERS,
        "pretrend_band_checked": bool(pre_bands),
        "pretrend_band_rejected": band_rejected,
        "pretrend_rejected": (pretrend_p is not None and pretrend_p < PRETREND_ALPHA) or band_rejected,
        "engine_warnings": warnings,
    }
    progress(0.93, "robustness")
    t2 = time.perf_counter()
    robustness = robustness_table(panel, outcome=outcome, baseline=baseline, seed=seed)
    timings["robustness"] = round(time.perf_counter() - t2, 3)
    result = {
        "outcome": outcome,
        "estimator": estimator,
        "robustness": robustness,
        "period": period,
        "headline": headline(att.estimate, att.ci_low, att.ci_high, baseline, att.p_value),
        "p_value": _finite(att.p_value),
        "se": _finite(att.se),
        "event_study": event_study,
        "trends": trends,
        "diagnostics": diagnostics,
        "estimate": estimate_dict,
        "summary": fit.summary(),
        "figures": {
            "effect": figure,
            "effect_kind": method.effect_figure,
            "trends": _figure_json(trends_figure(trends, outcome, labels)),
        },
    }
    timings["total"] = round(time.perf_counter() - t0, 3)
    progress(1.0, "done")
    return result, timings
