"""Interrupted time series: segmented regression with Newey–West (HAC) standard errors.

Model for the analysed series y_t (t = 0..T-1 in period order, intervention at t0):

    y_t = b0 + b1 t + b2 D_t + b3 (t - t0) D_t + seasonal terms + e_t,   D_t = 1{t >= t0}

b2 is the level change at the interruption and b3 the change in slope. Seasonality is optional:
``"dummies"`` (season_length - 1 indicators) or ``"fourier"`` (sin/cos pairs of order 1..K). The
treated series is the mean (or sum) of the treated units' outcomes; with ``comparison=True`` the
analysed series is treated minus the mean of the never-treated units (a difference ITS, which equals
the fully interacted comparative ITS point estimates). Standard errors are Newey–West (Bartlett kernel)
with ``hac_lags`` lags (default floor(4 (T/100)^(2/9))), small-sample factor T/(T-k) unless
``hac_correction=False``, and t(T-k) inference unless ``use_t=False`` (normal). The ATT reported is
the average effect over the post periods, b2 + b3 * mean(t - t0 | post), with its HAC standard error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from scipy import stats

from tremplin.engine.errors import EngineInputError
from tremplin.engine.estimators.panel_input import first_treated, require_role_columns, wide_panel
from tremplin.engine.estimators.results import Estimate, EstimatorResult, py_scalar
from tremplin.engine.options import Aggregate, Seasonality, check_choice, checked_options

__all__ = [
    "ITSFit",
    "ITSResult",
    "Seasonality",
    "design_matrix",
    "fit_its",
    "interrupted_time_series",
    "newey_west_vcov",
    "random_effects_pool",
    "StaggeredITSResult",
]


def newey_west_vcov(X: np.ndarray, resid: np.ndarray, lags: int, *, correction: bool = True) -> np.ndarray:
    """Newey–West HAC covariance of OLS coefficients (Bartlett weights 1 - j/(lags+1))."""
    n, k = X.shape
    xu = X * resid[:, None]
    S = xu.T @ xu
    for j in range(1, lags + 1):
        gamma = xu[j:].T @ xu[:-j]
        S += (1.0 - j / (lags + 1.0)) * (gamma + gamma.T)
    bread = np.linalg.inv(X.T @ X)
    V = bread @ S @ bread
    if correction:
        V *= n / (n - k)
    return V


def default_hac_lags(n: int) -> int:
    """Newey & West (1994) plug-in rule: floor(4 (n/100)^(2/9))."""
    return int(math.floor(4.0 * (n / 100.0) ** (2.0 / 9.0)))


def design_matrix(
    n: int,
    t0: int,
    *,
    seasonality: Seasonality = "none",
    season: np.ndarray | None = None,
    season_length: int = 12,
    fourier_order: int = 2,
) -> tuple[np.ndarray, list[str]]:
    """Segmented-regression design: const, time, level, slope_change, then seasonal terms."""
    t = np.arange(n, dtype=float)
    post = (t >= t0).astype(float)
    cols = [np.ones(n), t, post, (t - t0) * post]
    names = ["const", "time", "level_change", "slope_change"]
    if seasonality != "none":
        s = np.asarray(season if season is not None else np.arange(n) % season_length, dtype=int)
        if seasonality == "dummies":
            for m in range(1, season_length):
                if np.any(s == m):
                    cols.append((s == m).astype(float))
                    names.append(f"season_{m + 1}")
        else:
            for kk in range(1, fourier_order + 1):
                ang = 2.0 * math.pi * kk * s / season_length
                cols.extend([np.sin(ang), np.cos(ang)])
                names.extend([f"sin_{kk}", f"cos_{kk}"])
    return np.column_stack(cols), names


@dataclass(frozen=True)
class ITSFit:
    """Segmented-regression fit."""

    names: tuple[str, ...]
    coef: np.ndarray
    vcov: np.ndarray
    fitted: np.ndarray
    counterfactual: np.ndarray
    resid: np.ndarray
    hac_lags: int
    df_resid: int
    use_t: bool
    att: float
    att_se: float
    att_weights: np.ndarray

    @property
    def se(self) -> np.ndarray:
        return np.sqrt(np.diag(self.vcov))

    def _dist(self):
        return stats.t(self.df_resid) if self.use_t else stats.norm()

    def inference(self, estimate: float, se: float, alpha: float = 0.05) -> dict[str, float | None]:
        dist = self._dist()
        if not (se > 0):
            return {"estimate": estimate, "se": se, "ci_low": None, "ci_high": None, "p_value": None}
        crit = float(dist.ppf(1 - alpha / 2))
        return {
            "estimate": float(estimate),
            "se": float(se),
            "ci_low": float(estimate - crit * se),
            "ci_high": float(estimate + crit * se),
            "p_value": float(2 * dist.sf(abs(estimate / se))),
        }


def fit_its(
    y: np.ndarray,
    X: np.ndarray,
    names: list[str],
    t0: int,
    *,
    hac_lags: int,
    hac_correction: bool = True,
    use_t: bool = True,
) -> ITSFit:
    """OLS with Newey–West covariance; counterfactual = fit without the level/slope terms."""
    n, k = X.shape
    if n <= k:
        raise EngineInputError(f"Too few periods ({n}) for {k} regression terms.")
    if np.linalg.matrix_rank(X) < k:
        raise EngineInputError(
            "The segmented regression is singular: trend, interruption and seasonal terms are collinear (e.g. "
            "seasonal dummies with the interruption exactly on a season boundary of a short series); use "
            "seasonality='fourier' or 'none', or a longer series."
        )
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    fitted = X @ coef
    resid = y - fitted
    V = newey_west_vcov(X, resid, hac_lags, correction=hac_correction)
    effect_cols = [names.index("level_change"), names.index("slope_change")]
    cf = fitted - X[:, effect_cols] @ coef[effect_cols]
    post = np.arange(n) >= t0
    c = np.zeros(k)
    c[effect_cols[0]] = 1.0
    c[effect_cols[1]] = float(np.mean(np.arange(n)[post] - t0))
    return ITSFit(
        names=tuple(names), coef=coef, vcov=V, fitted=fitted, counterfactual=cf, resid=resid,
        hac_lags=hac_lags, df_resid=n - k, use_t=use_t, att=float(c @ coef),
        att_se=float(math.sqrt(max(c @ V @ c, 0.0))), att_weights=c,
    )


def _g(x: float | None, spec: str) -> str:
    return "n/a" if x is None or not math.isfinite(x) else format(x, spec)


def _line(name: str, r: dict[str, Any], pct: int) -> str:
    return (f"  {name:<26} {_g(r['estimate'], '>10.4g')}  SE {_g(r['se'], '.4g')}  "
            f"{pct}% CI [{_g(r['ci_low'], '.4g')}, {_g(r['ci_high'], '.4g')}]  p = {_g(r['p_value'], '.3g')}")


def _estimate(d: dict[str, float | None]) -> Estimate:
    """An `Estimate` from an inference dict (None, where there is no interval, as NaN)."""
    return Estimate(*(float("nan") if d[k] is None else float(d[k])
                      for k in ("estimate", "se", "ci_low", "ci_high", "p_value")))


@dataclass(frozen=True)
class ITSResult(EstimatorResult):
    """Interrupted-time-series result: ``summary()``, ``to_dict()`` and ``plot()``.

    `att` is the average effect over the post periods, b2 + b3 * mean(t - t0 | post), with its HAC
    standard error.
    """

    outcome: str
    time: str
    times: np.ndarray
    t0: int
    series: np.ndarray
    treated_series: np.ndarray
    comparison_series: np.ndarray | None
    fit: ITSFit
    seasonality: str
    treated_units: tuple[Any, ...]
    n_units: int
    n_obs: int
    alpha: float
    warnings: tuple[str, ...] = field(default=())

    @property
    def att(self) -> Estimate:
        """Average post effect with its HAC standard error."""
        return _estimate(self.fit.inference(self.fit.att, self.fit.att_se, self.alpha))

    def _coef(self, name: str) -> dict[str, float | None]:
        i = self.fit.names.index(name)
        return self.fit.inference(float(self.fit.coef[i]), float(self.fit.se[i]), self.alpha)

    def to_dict(self) -> dict[str, Any]:
        post = np.arange(self.times.size) >= self.t0
        att = self.fit.inference(self.fit.att, self.fit.att_se, self.alpha)
        att["inference"] = (
            f"Newey-West HAC ({self.fit.hac_lags} lags), " + ("t" if self.fit.use_t else "normal")
            + " distribution"
        )
        return {
            "method": "its",
            "outcome": self.outcome,
            "n_units": self.n_units,
            "n_periods": int(self.times.size),
            "n_obs": self.n_obs,
            "att": att,
            "its": {
                "intervention_time": py_scalar(self.times[self.t0]),
                "n_pre_periods": int(self.t0),
                "n_post_periods": int(self.times.size - self.t0),
                "level_change": self._coef("level_change"),
                "slope_change": self._coef("slope_change"),
                "pre_slope": self._coef("time"),
                "seasonality": self.seasonality,
                "comparison": self.comparison_series is not None,
                "hac_lags": self.fit.hac_lags,
                "treated_units": [py_scalar(u) for u in self.treated_units],
                "coefficients": [
                    {"term": n, **self.fit.inference(float(b), float(s), self.alpha)}
                    for n, b, s in zip(self.fit.names, self.fit.coef, self.fit.se, strict=True)
                ],
            },
            "series": [
                {"time": py_scalar(t), "observed": float(y), "fitted": float(f), "counterfactual": float(c),
                 "post": bool(p)}
                for t, y, f, c, p in zip(
                    self.times, self.series, self.fit.fitted, self.fit.counterfactual, post, strict=True
                )
            ],
            "notes": list(self.warnings),
        }

    def summary(self) -> str:
        d = self.to_dict()
        its = d["its"]
        label = "treated minus comparison" if its["comparison"] else "treated series"
        pct = int(round(100 * (1 - self.alpha)))

        def line(name: str, r: dict[str, Any]) -> str:
            return _line(name, r, pct)

        lines = [
            f"Interrupted time series — outcome {self.outcome!r} ({label}), intervention at "
            f"{self.time}={its['intervention_time']!r}",
            f"{its['n_pre_periods']} pre / {its['n_post_periods']} post periods; seasonality: "
            f"{self.seasonality}; Newey-West SE with {self.fit.hac_lags} lags",
            line("Level change", its["level_change"]),
            line("Slope change (per period)", its["slope_change"]),
            line("Average post effect (ATT)", d["att"]),
        ]
        lines.extend(f"Note: {n}" for n in self.warnings)
        return "\n".join(lines)

    def plot(self):
        """Observed series, fitted segmented regression and the counterfactual after the interruption."""
        x = [py_scalar(t) for t in self.times]
        post = np.arange(self.times.size) >= self.t0
        fig = go.Figure()
        fig.add_trace(go.Scatter(x=x, y=self.series, mode="markers", name="observed", meta={"role": "observed"}))
        fig.add_trace(go.Scatter(x=x, y=self.fit.fitted, mode="lines", name="fitted", meta={"role": "fitted"}))
        xs = [xx for xx, p in zip(x, post, strict=True) if p]
        fig.add_trace(go.Scatter(x=xs, y=self.fit.counterfactual[post], mode="lines",
                                 line={"dash": "dash"}, name="counterfactual", meta={"role": "counterfactual"}))
        fig.add_vline(x=x[self.t0], line_dash="dot")
        fig.update_layout(template="plotly_white", title=f"Interrupted time series: {self.outcome}", xaxis_title=self.time,
                          yaxis_title=self.outcome, meta={"figure": "its", "outcome": self.outcome, "time": self.time})
        return fig

    plot_fit = plot

    def figures(self) -> dict[str, Any]:
        """The observed series with its fit and counterfactual ("its_fit")."""
        return {"its_fit": self.plot()}


def random_effects_pool(estimates: np.ndarray, variances: np.ndarray, alpha: float = 0.05) -> dict[str, float]:
    """DerSimonian–Laird random-effects pooling (estimate, se, CI, p from the normal, tau2, I2)."""
    y = np.asarray(estimates, dtype=float)
    v = np.asarray(variances, dtype=float)
    w = 1.0 / v
    fixed = float(np.sum(w * y) / np.sum(w))
    q = float(np.sum(w * (y - fixed) ** 2))
    k = y.size
    c = float(np.sum(w) - np.sum(w**2) / np.sum(w))
    tau2 = max(0.0, (q - (k - 1)) / c) if k > 1 and c > 0 else 0.0
    wr = 1.0 / (v + tau2)
    est = float(np.sum(wr * y) / np.sum(wr))
    se = float(math.sqrt(1.0 / np.sum(wr)))
    crit = float(stats.norm.ppf(1 - alpha / 2))
    return {
        "estimate": est,
        "se": se,
        "ci_low": est - crit * se,
        "ci_high": est + crit * se,
        "p_value": float(2 * stats.norm.sf(abs(est / se))) if se > 0 else None,
        "tau2": tau2,
        "i2": max(0.0, (q - (k - 1)) / q) if q > 0 else 0.0,
        "q": q,
    }


@dataclass(frozen=True)
class StaggeredITSResult(EstimatorResult):
    """Interrupted time series for staggered starts: one segmented regression per start, pooled.

    Units sharing a start form a cohort analysed as in the single-interruption design (their mean series,
    minus the never-treated mean with ``comparison=True``); the cohorts' level change, slope change and
    average post effect are pooled by DerSimonian–Laird random effects (the cohorts are independent
    series; between-cohort heterogeneity is estimated, not assumed away).
    """

    outcome: str
    time: str
    cohorts: tuple[ITSResult, ...]
    skipped: tuple[tuple[Any, str], ...]
    pooled: dict[str, dict[str, float]]
    alpha: float
    n_units: int
    n_obs: int
    warnings: tuple[str, ...] = field(default=())

    @classmethod
    def pool(cls, *, outcome: str, time: str, cohorts: tuple[ITSResult, ...], skipped: tuple[tuple[Any, str], ...],
             alpha: float, n_never: int) -> StaggeredITSResult:
        pooled = {}
        for name in ("att", "level_change", "slope_change"):
            est, var = [], []
            for c in cohorts:
                if name == "att":
                    est.append(c.fit.att)
                    var.append(c.fit.att_se**2)
                else:
                    i = c.fit.names.index(name)
                    est.append(float(c.fit.coef[i]))
                    var.append(float(c.fit.vcov[i, i]))
            if not all(math.isfinite(v) and v > 0 for v in var):
                raise EngineInputError(f"A cohort has a zero standard error for {name}: nothing to pool "
                                       "(a noise-free series?).")
            pooled[name] = random_effects_pool(np.array(est), np.array(var), alpha)
        comparison = cohorts[0].comparison_series is not None
        n_treated = sum(len(c.treated_units) for c in cohorts)
        n_units = n_treated + (n_never if comparison else 0)
        notes = [f"{len(cohorts)} cohorts (distinct start periods) analysed separately and pooled by random "
                 "effects (DerSimonian-Laird)."]
        if len(cohorts) < 5:
            notes.append(f"Only {len(cohorts)} cohorts: the between-cohort variance (tau2) is poorly estimated.")
        for g, why in skipped:
            notes.append(f"Cohort starting at {g!r} skipped: {why}")
        return cls(outcome=outcome, time=time, cohorts=cohorts, skipped=skipped, pooled=pooled, alpha=alpha,
                   n_units=n_units, n_obs=int(n_units * cohorts[0].times.size), warnings=tuple(notes))

    def _plain(self, name: str) -> dict[str, float | None]:
        r = self.pooled[name]
        return {k: r[k] for k in ("estimate", "se", "ci_low", "ci_high", "p_value")}

    @property
    def att(self) -> Estimate:
        """The cohorts' average post effects pooled by random effects."""
        return _estimate(self._plain("att"))

    def to_dict(self) -> dict[str, Any]:
        att = self._plain("att")
        att["inference"] = ("per-cohort Newey-West HAC, pooled by DerSimonian-Laird random effects "
                            "(normal distribution)")
        first = self.cohorts[0]
        return {
            "method": "its",
            "outcome": self.outcome,
            "n_units": self.n_units,
            "n_periods": int(first.times.size),
            "n_obs": self.n_obs,
            "att": att,
            "its": {
                "design": "staggered: one segmented regression per start period, pooled by random effects",
                "level_change": self._plain("level_change"),
                "slope_change": self._plain("slope_change"),
                "heterogeneity": {n: {"tau2": r["tau2"], "i2": r["i2"], "q": r["q"]} for n, r in self.pooled.items()},
                "seasonality": first.seasonality,
                "comparison": first.comparison_series is not None,
                "cohorts": [
                    {"intervention_time": c.to_dict()["its"]["intervention_time"], "att": c.to_dict()["att"],
                     **{k: v for k, v in c.to_dict()["its"].items() if k != "intervention_time"}}
                    for c in self.cohorts
                ],
                "skipped_cohorts": [{"intervention_time": py_scalar(g), "reason": why} for g, why in self.skipped],
            },
            "notes": list(self.warnings),
        }

    def summary(self) -> str:
        pct = int(round(100 * (1 - self.alpha)))

        def line(name: str, r: dict[str, Any]) -> str:
            return _line(name, r, pct)

        first = self.cohorts[0]
        label = "treated minus comparison" if first.comparison_series is not None else "treated series"
        lines = [
            f"Interrupted time series, staggered — outcome {self.outcome!r} ({label}), {len(self.cohorts)} cohorts "
            f"pooled by random effects; seasonality: {first.seasonality}",
            line("Level change", self.pooled["level_change"]),
            line("Slope change (per period)", self.pooled["slope_change"]),
            line("Average post effect (ATT)", self.pooled["att"]),
            f"  Heterogeneity of the ATT across cohorts: I2 = {100 * self.pooled['att']['i2']:.0f}%, "
            f"tau2 = {self.pooled['att']['tau2']:.4g}",
            "Cohorts:",
        ]
        for c in self.cohorts:
            d = c.to_dict()
            lines.append(f"  start {d['its']['intervention_time']!s:<12} {len(c.treated_units):>4} units  "
                         f"ATT {d['att']['estimate']:.4g} (SE {d['att']['se']:.3g})")
        lines.extend(f"Note: {n}" for n in self.warnings)
        return "\n".join(lines)

    def plot(self):
        """Each cohort's observed series and counterfactual after its interruption."""
        fig = go.Figure()
        for c in self.cohorts:
            x = [py_scalar(t) for t in c.times]
            post = np.arange(c.times.size) >= c.t0
            label = str(py_scalar(c.times[c.t0]))
            fig.add_trace(go.Scatter(x=x, y=c.series, mode="markers", name=f"observed, start {label}",
                                     marker={"size": 4}, meta={"role": "observed", "start": label}))
            xs = [xx for xx, p in zip(x, post, strict=True) if p]
            fig.add_trace(go.Scatter(x=xs, y=c.fit.counterfactual[post], mode="lines", line={"dash": "dash"},
                                     name=f"counterfactual, start {label}",
                                     meta={"role": "counterfactual", "start": label}))
        fig.update_layout(template="plotly_white", title=f"Interrupted time series by cohort: {self.outcome}", xaxis_title=self.time,
                          yaxis_title=self.outcome,
                          meta={"figure": "its_by_cohort", "outcome": self.outcome, "time": self.time})
        return fig

    plot_fit = plot

    def figures(self) -> dict[str, Any]:
        """The observed series with its fit and counterfactual ("its_fit")."""
        return {"its_fit": self.plot()}


@checked_options("ITS")
def interrupted_time_series(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str | None = None,
    treatment: str | None = None,
    seasonality: Seasonality = "none",
    season_length: int = 12,
    fourier_order: int = 2,
    hac_lags: int | None = None,
    hac_correction: bool = True,
    use_t: bool = True,
    comparison: bool = False,
    aggregate: Aggregate = "mean",
    alpha: float = 0.05,
) -> ITSResult | StaggeredITSResult:
    """Segmented regression on the treated units' series (optionally minus the never-treated units').

    Options: ``seasonality`` ("none" | "dummies" | "fourier"), ``season_length`` (12), ``fourier_order``
    (2), ``hac_lags`` (None = Newey–West rule), ``hac_correction`` (True), ``use_t`` (True),
    ``comparison`` (False), ``aggregate`` ("mean" | "sum"), ``alpha`` (0.05). When treated units start at
    different periods, each start (cohort) is analysed separately and the cohorts are pooled by random effects
    (`StaggeredITSResult`); cohorts without 3 pre and 2 post periods are skipped with a note. Seasons are
    calendar months when ``time`` is a datetime column and season_length is 12, otherwise the period's
    position modulo season_length.
    """
    check_choice("seasonality", seasonality, Seasonality)
    check_choice("aggregate", aggregate, Aggregate)
    season_length = int(season_length)
    fourier_order = int(fourier_order)
    if season_length < 2:
        raise EngineInputError("season_length must be at least 2.")
    if not 1 <= fourier_order <= season_length // 2:
        raise EngineInputError(f"fourier_order must be between 1 and {season_length // 2}.")
    comparison = bool(comparison)
    alpha = float(alpha)
    if not 0 < alpha < 1:
        raise EngineInputError("alpha must be between 0 and 1.")
    require_role_columns(
        data, {"outcome": outcome, "unit": unit, "time": time, "cohort": cohort, "treatment": treatment}
    )
    units, times, Y = wide_panel(data, outcome=outcome, unit=unit, time=time)
    first = first_treated(data, unit=unit, time=time, cohort=cohort, treatment=treatment)
    treated = [u for u in units if first.get(u) is not None]
    if not treated:
        raise EngineInputError("No treated unit: interrupted time series needs at least one treated unit.")
    by_start: dict[Any, list[Any]] = {}
    for u in treated:
        by_start.setdefault(first[u], []).append(u)
    settings = {
        "seasonality": seasonality, "season_length": season_length, "fourier_order": fourier_order,
        "comparison": comparison, "aggregate": aggregate, "alpha": alpha, "hac_lags": hac_lags,
        "hac_correction": bool(hac_correction), "use_t": bool(use_t),
        "datetime_time": pd.api.types.is_datetime64_any_dtype(data[time]),
        "never_mask": np.array([first.get(u) is None for u in units]),
    }
    if len(by_start) == 1:
        return _its_one_start(outcome, time, units, times, Y, treated, next(iter(by_start)), settings)
    cohorts = []
    skipped = []
    for start in sorted(by_start, key=_sort_key):
        try:
            cohorts.append(_its_one_start(outcome, time, units, times, Y, by_start[start], start, settings))
        except EngineInputError as exc:
            skipped.append((py_scalar(start), str(exc)))
    if not cohorts:
        raise EngineInputError("No cohort of treated units can be analysed: " + "; ".join(
            f"start {g}: {why}" for g, why in skipped[:3]))
    return StaggeredITSResult.pool(outcome=outcome, time=time, cohorts=tuple(cohorts), skipped=tuple(skipped),
                                   alpha=alpha, n_never=int(sum(first.get(u) is None for u in units)))


def _sort_key(value: Any) -> tuple[int, Any]:
    return (0, value) if isinstance(value, int | float | np.integer | np.floating) else (1, str(value))


def _its_one_start(
    outcome: str,
    time: str,
    units: np.ndarray,
    times: np.ndarray,
    Y: np.ndarray,
    treated: list[Any],
    start: Any,
    settings: dict[str, Any],
) -> ITSResult:
    """Segmented regression for the treated units sharing one start (the single-interruption design)."""
    seasonality, season_length = settings["seasonality"], settings["season_length"]
    hits = np.flatnonzero(times == start)
    if hits.size == 0:
        later = np.flatnonzero(times > start)
        if later.size == 0:
            raise EngineInputError(f"Intervention at {start!r} is after the last period: no post period.")
        t0 = int(later[0])
    else:
        t0 = int(hits[0])
    tmask = np.isin(units, treated)
    agg = np.mean if settings["aggregate"] == "mean" else np.sum
    treated_series = agg(Y[:, tmask], axis=1)
    comp_series = None
    series = treated_series
    never = settings["never_mask"]
    if settings["comparison"]:
        if not never.any():
            raise EngineInputError("No control: comparison=True needs at least one never-treated unit.")
        comp_series = agg(Y[:, never], axis=1)
        series = treated_series - comp_series
    n = times.size
    season = None
    if seasonality != "none":
        if settings["datetime_time"] and season_length == 12:
            season = pd.DatetimeIndex(times).month.to_numpy() - 1
        else:
            season = np.arange(n) % season_length
    X, names = design_matrix(n, t0, seasonality=seasonality, season=season, season_length=season_length,
                             fourier_order=settings["fourier_order"])
    k = X.shape[1]
    if t0 < 3 or n - t0 < 2:
        raise EngineInputError(
            f"Interrupted time series needs at least 3 pre and 2 post periods; got {t0} pre and {n - t0} post."
        )
    if n - k < 3:
        raise EngineInputError(f"Too few periods ({n}) for {k} regression terms; drop or simplify seasonality.")
    lags = settings["hac_lags"]
    lags = default_hac_lags(n) if lags is None else int(lags)
    if lags < 0 or lags >= n:
        raise EngineInputError(f"hac_lags must be between 0 and {n - 1}.")
    fit = fit_its(series, X, names, t0, hac_lags=lags, hac_correction=settings["hac_correction"],
                  use_t=settings["use_t"])
    notes = []
    if n < 20:
        notes.append(f"Short series ({n} periods): HAC standard errors are unreliable below ~20-30 periods.")
    if t0 < 8:
        notes.append(f"Only {t0} pre-intervention periods: the pre-trend is poorly identified.")
    n_units = int(tmask.sum() + (never.sum() if settings["comparison"] else 0))
    return ITSResult(
        outcome=outcome, time=time, times=times, t0=t0, series=series, treated_series=treated_series,
        comparison_series=comp_series, fit=fit, seasonality=seasonality,
        treated_units=tuple(py_scalar(u) for u in treated), n_units=n_units, n_obs=int(n_units * n),
        alpha=settings["alpha"], warnings=tuple(notes),
    )
