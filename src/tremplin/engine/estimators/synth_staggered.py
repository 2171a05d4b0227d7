"""Synthetic control with several treated units and staggered start dates.

Each treated unit gets its own synthetic control from the never-treated donors, fitted on its own
pre-treatment periods (Abadie, Diamond & Hainmueller's estimator, unit by unit); the gaps are aligned
in event time (periods since the unit's start) and averaged with equal weight per treated unit. This is
the design of Cavallo, Galiani, Noy & Pantano (2013, "Catastrophic natural disasters and economic
growth", Review of Economics and Statistics 95(5)), also described by Abadie (2021, JEL 59(2), §8).

Inference extends placebo-in-space to the average (Cavallo et al. 2013): every donor is refitted as a
fake treated unit at each treated unit's start date; a placebo *average* draws one placebo per treated
unit and averages exactly as for the treated units. The p-value is the share of placebo averages at
least as extreme as the observed one (all combinations when there are at most ``n_placebo_draws`` of
them, otherwise that many random draws, seeded). The headline p-value is the ATT's (the average post
gap, as in Cavallo et al.); the average post/pre RMSPE ratio, Abadie's statistic for one treated unit,
is reported too but is fragile when a unit's pre-treatment fit is exact (ratio near infinity); each
event-time average has its own p-value.

Numbers happen in `placebo_averages` and in synth.py's `fit_synth`; `staggered_synthetic_control`
orchestrates. With one treated unit, use `synth.synthetic_control` (it dispatches here for several).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from tremplin.engine.errors import EngineInputError
from tremplin.engine.estimators.panel_input import predictors
from tremplin.engine.estimators.results import Effect, Estimate, EstimatorResult, finite_or_none, py_scalar
from tremplin.engine.estimators.synth_fit import SynthFit, fit_synth

__all__ = ["PlaceboAverages", "StaggeredSynthResult", "placebo_averages", "staggered_synthetic_control"]

DEFAULT_PLACEBO_DRAWS = 2000
DEFAULT_LOO_DONORS = 10


@dataclass(frozen=True)
class PlaceboAverages:
    """Placebo distribution of the averaged statistics (one placebo per treated unit per draw)."""

    n_draws: int
    exhaustive: bool
    ratio: np.ndarray  # (M,) average post/pre RMSPE ratio
    att: np.ndarray  # (M,) average post gap
    event: np.ndarray  # (M, E) average gap per event time (NaN where no treated unit has that event time)
    ratio_p_value: float
    att_p_value: float
    event_p_values: np.ndarray  # (E,)


def _p_value(placebo: np.ndarray, observed: float) -> float:
    """(1 + #{|placebo| >= |observed|}) / (1 + M), ties within rounding counted as extreme."""
    ok = np.isfinite(placebo)
    m = int(ok.sum())
    if m == 0 or not math.isfinite(observed):
        return math.nan
    return (1 + int(np.sum(np.abs(placebo[ok]) >= abs(observed) * (1 - 1e-12)))) / (1 + m)


def placebo_averages(
    placebo_ratio: list[np.ndarray],
    placebo_att: list[np.ndarray],
    placebo_event: list[np.ndarray],
    observed_ratio: float,
    observed_att: float,
    observed_event: np.ndarray,
    *,
    n_draws: int,
    rng: np.random.Generator,
) -> PlaceboAverages:
    """Distribution of averages over treated units of one placebo each.

    Per treated unit i: ``placebo_ratio[i]`` (J_i,), ``placebo_att[i]`` (J_i,), ``placebo_event[i]``
    (J_i, E) with NaN outside the unit's event window. All combinations are used when there are at most
    ``n_draws`` of them, otherwise ``n_draws`` uniform random combinations.
    """
    sizes = [r.size for r in placebo_ratio]
    total = math.prod(sizes)
    exhaustive = total <= n_draws
    if exhaustive:
        idx = np.array(list(itertools.product(*[range(n) for n in sizes])), dtype=np.int64).T
    else:
        idx = np.vstack([rng.integers(0, n, size=n_draws) for n in sizes])
    m = idx.shape[1]
    ratio = np.zeros(m)
    att = np.zeros(m)
    event_sum = np.zeros((m, observed_event.size))
    event_n = np.zeros((m, observed_event.size))
    for i, rows in enumerate(idx):
        ratio += placebo_ratio[i][rows]
        att += placebo_att[i][rows]
        ev = placebo_event[i][rows]
        seen = ~np.isnan(ev)
        event_sum += np.where(seen, ev, 0.0)
        event_n += seen
    k = len(sizes)
    ratio /= k
    att /= k
    with np.errstate(invalid="ignore", divide="ignore"):
        event = np.where(event_n > 0, event_sum / np.maximum(event_n, 1), np.nan)
    event_p = np.array([_p_value(event[:, e], float(observed_event[e])) for e in range(observed_event.size)])
    return PlaceboAverages(
        n_draws=m, exhaustive=exhaustive, ratio=ratio, att=att, event=event,
        ratio_p_value=_p_value(ratio, observed_ratio), att_p_value=_p_value(att, observed_att),
        event_p_values=event_p,
    )


@dataclass(frozen=True)
class TreatedFit:
    """One treated unit's synthetic control."""

    unit: Any
    start: Any
    t0: int  # index of the first treated period
    fit: SynthFit

    @property
    def att(self) -> float:
        return float(np.mean(self.fit.gap[self.t0:]))


@dataclass(frozen=True)
class StaggeredSynthResult(EstimatorResult):
    """Averaged synthetic controls: ``summary()``, ``to_dict()`` (the synth JSON contract) and plots.

    `att` is the average over treated units of their average post-treatment gap, with the placebo
    p-value of that average (no standard error or interval: NaN).
    """

    outcome: str
    unit: str
    time: str
    times: np.ndarray
    donors: np.ndarray  # donor labels
    treated: tuple[TreatedFit, ...]
    event_times: np.ndarray  # (E,) relative periods, 0 = first treated period
    event_gap: np.ndarray  # (E,) average gap
    event_n: np.ndarray  # (E,) treated units contributing
    event_treated: np.ndarray  # (E,) average treated outcome
    placebo: PlaceboAverages | None
    loo: tuple[tuple[Any, float], ...]  # (dropped donor, ATT without it)
    excluded: tuple[tuple[Any, str], ...]  # (unit, reason)
    v_method: str
    n_obs: int
    warnings: tuple[str, ...] = field(default=())

    @property
    def att(self) -> Estimate:
        """Average over treated units of their average post-treatment gap, with its placebo p-value."""
        p = float("nan") if self.placebo is None else self.placebo.att_p_value
        nan = float("nan")
        return Estimate(float(np.mean([t.att for t in self.treated])), nan, nan, nan, p)

    @property
    def ratio(self) -> float:
        return float(np.mean([t.fit.ratio for t in self.treated]))

    @property
    def weights(self) -> dict[Any, float]:
        """Average donor weights over the treated units."""
        w = np.mean([t.fit.weights for t in self.treated], axis=0)
        return {py_scalar(u): float(x) for u, x in zip(self.donors, w, strict=True)}

    def _rmspe(self, part: str) -> float:
        sq = []
        for t in self.treated:
            g = t.fit.gap[: t.t0] if part == "pre" else t.fit.gap[t.t0:]
            sq.append(np.mean(g**2))
        return float(math.sqrt(np.mean(sq)))

    def to_dict(self) -> dict[str, Any]:
        p = self.placebo
        return {
            "method": "synth",
            "design": "staggered: one synthetic control per treated unit, gaps averaged in event time "
            "(Cavallo et al. 2013)",
            "outcome": self.outcome,
            "n_units": len(self.treated) + int(self.donors.size),
            "n_treated": len(self.treated),
            "n_periods": int(self.times.size),
            "n_obs": self.n_obs,
            "att": {
                "estimate": self.att.estimate,
                "se": None,
                "ci_low": None,
                "ci_high": None,
                "p_value": None if p is None else finite_or_none(p.att_p_value),
                "inference": "placebo-in-space permutation of the average (Cavallo et al. 2013): |average post "
                "gap| ranked among placebo averages",
                "note": "Synthetic control has no sampling standard error; the p-value ranks the treated units' "
                "average post-treatment gap among averages of placebo units refitted at the same start dates.",
            },
            "synth": {
                "weights": {k: v for k, v in self.weights.items() if v > 0},
                "weights_note": "average of the treated units' donor weights",
                "v_method": self.v_method,
                "pre_rmspe": self._rmspe("pre"),
                "post_rmspe": self._rmspe("post"),
                "rmspe_ratio": finite_or_none(self.ratio),
                "placebo_p_value": None if p is None else finite_or_none(p.att_p_value),
                "placebo_att_p_value": None if p is None else finite_or_none(p.att_p_value),
                "placebo_ratio_p_value": None if p is None else finite_or_none(p.ratio_p_value),
                "n_placebo_draws": 0 if p is None else p.n_draws,
                "placebo_draws_exhaustive": None if p is None else p.exhaustive,
                "treated_units": [
                    {
                        "unit": py_scalar(t.unit),
                        "start": py_scalar(t.start),
                        "att": t.att,
                        "pre_rmspe": t.fit.pre_rmspe,
                        "post_rmspe": finite_or_none(t.fit.post_rmspe),
                        "ratio": finite_or_none(t.fit.ratio),
                        "weights": {
                            py_scalar(u): float(w) for u, w in zip(self.donors, t.fit.weights, strict=True) if w > 0
                        },
                    }
                    for t in self.treated
                ],
                "excluded_units": [{"unit": py_scalar(u), "reason": r} for u, r in self.excluded],
            },
            "event_study": [
                {
                    "relative_period": int(e),
                    "estimate": float(g),
                    "se": None,
                    "ci_low": None,
                    "ci_high": None,
                    "p_value": None if p is None else finite_or_none(p.event_p_values[i]),
                    "n_treated": int(n),
                }
                for i, (e, g, n) in enumerate(zip(self.event_times, self.event_gap, self.event_n, strict=True))
            ],
            "leave_one_out": [{"dropped": py_scalar(u), "att": a} for u, a in self.loo],
            "notes": list(self.warnings),
        }

    def summary(self) -> str:
        d = self.to_dict()
        s = d["synth"]
        lines = [
            f"Synthetic control, staggered — outcome {self.outcome!r}: {len(self.treated)} treated units, "
            f"{self.donors.size} never-treated donors; V: {self.v_method}",
            f"Average post-treatment gap (ATT): {self.att.estimate:.4g}",
            f"Pre-treatment RMSPE {s['pre_rmspe']:.4g}; post {s['post_rmspe']:.4g}; average post/pre ratio "
            + (f"{self.ratio:.3g}" if self.ratio < 1e6 else "unbounded (some pre-treatment fits are exact)"),
        ]
        if self.placebo is not None:
            kind = "all combinations" if self.placebo.exhaustive else "random draws"
            lines.append(
                f"Placebo p-value (ATT): {self.placebo.att_p_value:.3f}; average RMSPE ratio: "
                f"{self.placebo.ratio_p_value:.3f} ({self.placebo.n_draws} placebo averages, {kind})"
            )
        lines.append("Event time   gap        treated units   (first periods; every one in `to_dict()`)")
        for e, g, n in zip(self.event_times, self.event_gap, self.event_n, strict=True):
            if -3 <= e <= 12:
                lines.append(f"  {int(e):>4}   {g:>10.4g}   {int(n)}")
        if self.loo:
            atts = [a for _, a in self.loo]
            lines.append(f"Leave-one-out ATT range: [{min(atts):.4g}, {max(atts):.4g}]")
        for u, reason in self.excluded[:5]:
            lines.append(f"Excluded {u!r}: {reason}")
        if len(self.excluded) > 5:
            lines.append(f"... and {len(self.excluded) - 5} more excluded units")
        lines.extend(f"Note: {n}" for n in self.warnings)
        return "\n".join(lines)

    def plot_gaps(self, *, max_placebo_lines: int = 100):
        """Average gap in event time (bold) over placebo averages (grey)."""
        fig = go.Figure()
        x = self.event_times.tolist()
        if self.placebo is not None:
            for row in self.placebo.event[:max_placebo_lines]:
                fig.add_trace(go.Scatter(x=x, y=row, mode="lines", line={"color": "lightgrey", "width": 1},
                                         showlegend=False, hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=x, y=self.event_gap, mode="lines+markers", line={"color": "black", "width": 3},
                                 name="average gap", meta={"role": "average_gap"}))
        fig.add_hline(y=0, line_dash="dot")
        fig.add_vline(x=-0.5, line_dash="dash")
        fig.update_layout(template="plotly_white", title=f"Average gap in {self.outcome}: treated minus synthetic (placebo averages in grey)",
                          xaxis_title="periods since start", yaxis_title="gap",
                          meta={"figure": "synth_average_gaps", "outcome": self.outcome})
        return fig

    def plot_paths(self):
        """Average treated and synthetic outcomes in event time."""
        x = self.event_times.tolist()
        fig = go.Figure()
        fig.add_trace(go.Scatter(x=x, y=self.event_treated, mode="lines", name="treated (average)"))
        fig.add_trace(go.Scatter(x=x, y=self.event_treated - self.event_gap, mode="lines", line={"dash": "dash"},
                                 name="synthetic (average)"))
        fig.add_vline(x=-0.5, line_dash="dash")
        fig.update_layout(template="plotly_white", title=f"{self.outcome}: treated vs synthetic, in event time",
                          xaxis_title="periods since start", yaxis_title=self.outcome)
        return fig

    plot = plot_gaps

    def figures(self) -> dict[str, Any]:
        """The average gap over the placebo averages ("synth_gaps") and the average paths ("synth_paths")."""
        return {"synth_gaps": self.plot_gaps(), "synth_paths": self.plot_paths()}

    def event_time(self) -> tuple[Effect, ...]:
        """The average gap by period relative to each treated unit's start (no interval)."""
        return tuple(Effect(relative_period=int(e), estimate=float(g))
                     for e, g in zip(self.event_times, self.event_gap, strict=True))


def _event_path(values: np.ndarray, t0: int, event_times: np.ndarray) -> np.ndarray:
    """Calendar path (T,) -> event-time path (E,) with NaN where the unit has no such event time."""
    out = np.full(event_times.size, np.nan)
    pos = np.arange(values.size) - t0
    where = np.searchsorted(event_times, pos)
    out[where] = values
    return out


def staggered_synthetic_control(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    units: np.ndarray,
    times: np.ndarray,
    Y: np.ndarray,
    first: dict[Any, Any],
    covariates: list[str],
    covariate_periods: Any,
    outcome_lags: Any,
    v_method: str,
    do_placebo: bool,
    do_loo: bool,
    n_starts: int,
    n_placebo_draws: int,
    loo_donors: int,
    rng: np.random.Generator,
) -> StaggeredSynthResult:
    """Fit every treated unit (called by `synth.synthetic_control` once the input is validated)."""
    donor_mask = np.array([first.get(u) is None for u in units])
    donor_idx = np.flatnonzero(donor_mask)
    if donor_idx.size < 2:
        raise EngineInputError("No control: synthetic control needs at least 2 never-treated donor units.")
    excluded: list[tuple[Any, str]] = []
    plan: list[tuple[int, Any, np.ndarray]] = []  # (unit index, start, pre mask)
    for i, u in enumerate(units):
        g = first.get(u)
        if g is None:
            continue
        try:
            pre = times < g
        except TypeError as exc:
            raise EngineInputError(f"Treatment start {g!r} is not comparable with {time!r} values.") from exc
        if pre.sum() < 2:
            excluded.append((py_scalar(u), f"treated from {py_scalar(g)!r}: fewer than 2 pre-treatment periods"))
        elif pre.all():
            excluded.append((py_scalar(u), f"treated from {py_scalar(g)!r}, after the last period: no post period"))
        else:
            plan.append((i, g, pre))
    if not plan:
        raise EngineInputError(
            "No treated unit has at least 2 pre-treatment periods and 1 post period: "
            + "; ".join(f"{u}: {r}" for u, r in excluded[:3])
        )

    # predictors depend on the start date only: one matrix per distinct start
    start_predictors: dict[Any, tuple[np.ndarray, list[str]]] = {}
    pre_of: dict[Any, np.ndarray] = {}
    for _, g, pre in plan:
        if g not in start_predictors:
            start_predictors[g] = predictors(
                data, Y, units, times, pre, outcome=outcome, unit=unit, time=time, covariates=covariates,
                covariate_periods=covariate_periods, outcome_lags=outcome_lags,
            )
            pre_of[g] = pre
    T = times.size
    treated: list[TreatedFit] = []
    for i, g, pre in plan:
        X = start_predictors[g][0]
        fit = fit_synth(Y[:, i], Y[:, donor_idx], X[:, i], X[:, donor_idx], pre,
                        v_method=v_method, n_starts=n_starts, rng=rng)
        treated.append(TreatedFit(unit=py_scalar(units[i]), start=py_scalar(g), t0=int((pre).sum()), fit=fit))

    lo = min(-t.t0 for t in treated)
    hi = max(T - 1 - t.t0 for t in treated)
    event_times = np.arange(lo, hi + 1)
    gaps = np.vstack([_event_path(t.fit.gap, t.t0, event_times) for t in treated])
    levels = np.vstack([_event_path(Y[:, i], t.t0, event_times) for (i, _, _), t in zip(plan, treated, strict=True)])
    event_n = (~np.isnan(gaps)).sum(axis=0)
    with np.errstate(invalid="ignore"):
        event_gap = np.nanmean(gaps, axis=0)
        event_treated = np.nanmean(levels, axis=0)
    att = float(np.mean([t.att for t in treated]))
    ratio = float(np.mean([t.fit.ratio for t in treated]))

    placebo = None
    warnings: list[str] = []
    if do_placebo:
        by_start: dict[Any, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for g, pre in pre_of.items():
            X = start_predictors[g][0]
            J = donor_idx.size
            p_gap = np.empty((J, T))
            p_ratio = np.empty(J)
            for a, j in enumerate(donor_idx):
                pool = donor_idx[donor_idx != j]
                f = fit_synth(Y[:, j], Y[:, pool], X[:, j], X[:, pool], pre, v_method=v_method,
                              n_starts=n_starts, rng=rng)
                p_gap[a] = f.gap
                p_ratio[a] = f.ratio
            by_start[g] = (p_gap, p_ratio, pre)
        pr, pa, pe = [], [], []
        for (_, g, _), t in zip(plan, treated, strict=True):
            p_gap, p_ratio, _ = by_start[g]
            pr.append(p_ratio)
            pa.append(p_gap[:, t.t0:].mean(axis=1))
            pe.append(np.vstack([_event_path(row, t.t0, event_times) for row in p_gap]))
        placebo = placebo_averages(pr, pa, pe, ratio, att, event_gap, n_draws=n_placebo_draws, rng=rng)
        if placebo.n_draws < 19:
            warnings.append(f"Only {placebo.n_draws} placebo averages: the smallest attainable p-value is "
                         f"{1 / (placebo.n_draws + 1):.3f}.")

    loo: list[tuple[Any, float]] = []
    if do_loo and donor_idx.size > 2:
        mean_w = np.mean([t.fit.weights for t in treated], axis=0)
        order = [int(k) for k in np.argsort(-mean_w) if mean_w[k] > 1e-6][:loo_donors]
        for k in order:
            pool = np.delete(donor_idx, k)
            atts = []
            for (i, g, pre), t in zip(plan, treated, strict=True):
                X = start_predictors[g][0]
                f = fit_synth(Y[:, i], Y[:, pool], X[:, i], X[:, pool], pre, v_method=v_method,
                              n_starts=n_starts, rng=rng)
                atts.append(float(np.mean(f.gap[t.t0:])))
            loo.append((py_scalar(units[donor_idx[k]]), float(np.mean(atts))))
        if int((mean_w > 1e-6).sum()) > loo_donors:
            warnings.append(f"Leave-one-out drops the {loo_donors} donors with the largest average weight.")
    if excluded:
        warnings.append(f"{len(excluded)} treated unit(s) excluded (see excluded_units).")
    if len(treated) < 5:
        warnings.append(f"Only {len(treated)} treated units are averaged: the event-time average is noisy.")
    if v_method == "nested":
        warnings.append("V chosen by nested optimisation (non-convex), per treated unit.")
    return StaggeredSynthResult(
        outcome=outcome, unit=unit, time=time, times=times, donors=units[donor_idx], treated=tuple(treated),
        event_times=event_times, event_gap=event_gap, event_n=event_n, event_treated=event_treated,
        placebo=placebo, loo=tuple(loo), excluded=tuple(excluded), v_method=v_method,
        n_obs=int((len(treated) + donor_idx.size) * T), warnings=tuple(warnings),
    )

