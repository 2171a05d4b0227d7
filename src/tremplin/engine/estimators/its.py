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
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd
from scipy import stats

from tremplin.engine.errors import EngineInputError
from tremplin.engine.estimators.synth import (
    _first_treated,
    _py,
    _require_columns,
    _validate_choice,
    _wide_panel,
)

__all__ = [
    "ITSFit",
    "ITSResult",
    "Seasonality",
    "design_matrix",
    "fit_its",
    "interrupted_time_series",
    "newey_west_vcov",
]

Seasonality = Literal["none", "dummies", "fourier"]
Aggregate = Literal["mean", "sum"]


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


@dataclass(frozen=True)
class ITSResult:
    """Interrupted-time-series result: ``summary()``, ``to_dict()`` and ``plot()``."""

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
    notes: tuple[str, ...] = field(default=())

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
                "intervention_time": _py(self.times[self.t0]),
                "n_pre_periods": int(self.t0),
                "n_post_periods": int(self.times.size - self.t0),
                "level_change": self._coef("level_change"),
                "slope_change": self._coef("slope_change"),
                "pre_slope": self._coef("time"),
                "seasonality": self.seasonality,
                "comparison": self.comparison_series is not None,
                "hac_lags": self.fit.hac_lags,
                "treated_units": [_py(u) for u in self.treated_units],
                "coefficients": [
                    {"term": n, **self.fit.inference(float(b), float(s), self.alpha)}
                    for n, b, s in zip(self.fit.names, self.fit.coef, self.fit.se, strict=True)
                ],
            },
            "series": [
                {"time": _py(t), "observed": float(y), "fitted": float(f), "counterfactual": float(c),
                 "post": bool(p)}
                for t, y, f, c, p in zip(
                    self.times, self.series, self.fit.fitted, self.fit.counterfactual, post, strict=True
                )
            ],
            "notes": list(self.notes),
        }

    def summary(self) -> str:
        d = self.to_dict()
        its = d["its"]
        label = "treated minus comparison" if its["comparison"] else "treated series"
        pct = int(round(100 * (1 - self.alpha)))

        def line(name: str, r: dict[str, Any]) -> str:
            return (f"  {name:<26} {r['estimate']:>10.4g}  SE {r['se']:.4g}  "
                    f"{pct}% CI [{r['ci_low']:.4g}, {r['ci_high']:.4g}]  p = {r['p_value']:.3g}")

        lines = [
            f"Interrupted time series — outcome {self.outcome!r} ({label}), intervention at "
            f"{self.time}={its['intervention_time']!r}",
            f"{its['n_pre_periods']} pre / {its['n_post_periods']} post periods; seasonality: "
            f"{self.seasonality}; Newey-West SE with {self.fit.hac_lags} lags",
            line("Level change", its["level_change"]),
            line("Slope change (per period)", its["slope_change"]),
            line("Average post effect (ATT)", d["att"]),
        ]
        lines.extend(f"Note: {n}" for n in self.notes)
        return "\n".join(lines)

    def plot(self):
        """Observed series, fitted segmented regression and the counterfactual after the interruption."""
        import plotly.graph_objects as go

        x = [_py(t) for t in self.times]
        post = np.arange(self.times.size) >= self.t0
        fig = go.Figure()
        fig.add_trace(go.Scatter(x=x, y=self.series, mode="markers", name="observed"))
        fig.add_trace(go.Scatter(x=x, y=self.fit.fitted, mode="lines", name="fitted"))
        xs = [xx for xx, p in zip(x, post, strict=True) if p]
        fig.add_trace(go.Scatter(x=xs, y=self.fit.counterfactual[post], mode="lines",
                                 line={"dash": "dash"}, name="counterfactual"))
        fig.add_vline(x=x[self.t0], line_dash="dot")
        fig.update_layout(title=f"Interrupted time series: {self.outcome}", xaxis_title=self.time,
                          yaxis_title=self.outcome)
        return fig

    plot_fit = plot


_OPTIONS = ("seasonality", "season_length", "fourier_order", "hac_lags", "hac_correction", "use_t",
            "comparison", "aggregate", "alpha")


def interrupted_time_series(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str | None = None,
    treatment: str | None = None,
    **options: Any,
) -> ITSResult:
    """Segmented regression on the treated units' series (optionally minus the never-treated units').

    Options: ``seasonality`` ("none" | "dummies" | "fourier"), ``season_length`` (12), ``fourier_order``
    (2), ``hac_lags`` (None = Newey–West rule), ``hac_correction`` (True), ``use_t`` (True),
    ``comparison`` (False), ``aggregate`` ("mean" | "sum"), ``alpha`` (0.05). Every treated unit must
    start at the same period. Seasons are calendar months when ``time`` is a datetime column and
    season_length is 12, otherwise the period's position modulo season_length.
    """
    unknown = sorted(set(options) - set(_OPTIONS))
    if unknown:
        raise EngineInputError(f"Unknown ITS option(s) {unknown}; allowed: {', '.join(_OPTIONS)}.")
    seasonality = options.get("seasonality", "none")
    _validate_choice("seasonality", seasonality, get_args(Seasonality))
    aggregate = options.get("aggregate", "mean")
    _validate_choice("aggregate", aggregate, get_args(Aggregate))
    season_length = int(options.get("season_length", 12))
    fourier_order = int(options.get("fourier_order", 2))
    if season_length < 2:
        raise EngineInputError("season_length must be at least 2.")
    if not 1 <= fourier_order <= season_length // 2:
        raise EngineInputError(f"fourier_order must be between 1 and {season_length // 2}.")
    comparison = bool(options.get("comparison", False))
    alpha = float(options.get("alpha", 0.05))
    if not 0 < alpha < 1:
        raise EngineInputError("alpha must be between 0 and 1.")
    _require_columns(
        data, {"outcome": outcome, "unit": unit, "time": time, "cohort": cohort, "treatment": treatment}
    )
    units, times, Y = _wide_panel(data, outcome=outcome, unit=unit, time=time)
    first = _first_treated(data, unit=unit, time=time, cohort=cohort, treatment=treatment)
    treated = [u for u in units if first.get(u) is not None]
    if not treated:
        raise EngineInputError("No treated unit: interrupted time series needs at least one treated unit.")
    starts = {first[u] for u in treated}
    if len(starts) > 1:
        raise EngineInputError(
            f"Treated units start at different periods ({sorted(map(str, starts))[:5]}); interrupted time "
            "series needs a common interruption: use cs for staggered adoption."
        )
    start = next(iter(starts))
    hits = np.flatnonzero(times == start)
    if hits.size == 0:
        later = np.flatnonzero(times > start)
        if later.size == 0:
            raise EngineInputError(f"Intervention at {start!r} is after the last period: no post period.")
        t0 = int(later[0])
    else:
        t0 = int(hits[0])
    tmask = np.isin(units, treated)
    agg = np.mean if aggregate == "mean" else np.sum
    treated_series = agg(Y[:, tmask], axis=1)
    comp_series = None
    series = treated_series
    if comparison:
        if tmask.all():
            raise EngineInputError("No control: comparison=True needs at least one never-treated unit.")
        comp_series = agg(Y[:, ~tmask], axis=1)
        series = treated_series - comp_series
    n = times.size
    season = None
    if seasonality != "none":
        tcol = data[time]
        if pd.api.types.is_datetime64_any_dtype(tcol) and season_length == 12:
            season = pd.DatetimeIndex(times).month.to_numpy() - 1
        else:
            season = np.arange(n) % season_length
    X, names = design_matrix(n, t0, seasonality=seasonality, season=season, season_length=season_length,
                             fourier_order=fourier_order)
    k = X.shape[1]
    if t0 < 3 or n - t0 < 2:
        raise EngineInputError(
            f"Interrupted time series needs at least 3 pre and 2 post periods; got {t0} pre and {n - t0} post."
        )
    if n - k < 3:
        raise EngineInputError(f"Too few periods ({n}) for {k} regression terms; drop or simplify seasonality.")
    lags = options.get("hac_lags")
    lags = default_hac_lags(n) if lags is None else int(lags)
    if lags < 0 or lags >= n:
        raise EngineInputError(f"hac_lags must be between 0 and {n - 1}.")
    fit = fit_its(series, X, names, t0, hac_lags=lags, hac_correction=bool(options.get("hac_correction", True)),
                  use_t=bool(options.get("use_t", True)))
    notes = []
    if n < 20:
        notes.append(f"Short series ({n} periods): HAC standard errors are unreliable below ~20-30 periods.")
    if t0 < 8:
        notes.append(f"Only {t0} pre-intervention periods: the pre-trend is poorly identified.")
    n_units = int(tmask.sum() + ((~tmask).sum() if comparison else 0))
    return ITSResult(
        outcome=outcome, time=time, times=times, t0=t0, series=series, treated_series=treated_series,
        comparison_series=comp_series, fit=fit, seasonality=seasonality,
        treated_units=tuple(_py(u) for u in treated), n_units=n_units, n_obs=int(n_units * n), alpha=alpha,
        notes=tuple(notes),
    )
