"""Event study: Callaway–Sant'Anna dynamic effects by period relative to treatment, with pointwise intervals
and uniform (simultaneous) bands from the multiplier bootstrap (sup-t critical value over the window).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from tremplin.engine.errors import EngineInputError
from tremplin.engine.estimators.panel_input import build_panel
from tremplin.engine.estimators.plots import event_study_plot
from tremplin.engine.estimators.results import Effect, Estimate, jsonable
from tremplin.engine.estimators.staggered import (
    Control,
    Estimation,
    Influence,
    aggregate,
    compute_att_gt,
    influence_standard_errors,
)
from tremplin.engine.inference import multiplier_bootstrap, normal_ci

__all__ = ["EventStudyResult", "event_study", "event_study_bands"]


@dataclass(frozen=True)
class Bands:
    estimate: np.ndarray
    se: np.ndarray
    crit: float
    ci_low: np.ndarray
    ci_high: np.ndarray
    band_low: np.ndarray
    band_high: np.ndarray


def event_study_bands(
    estimate: np.ndarray, influence: Influence, *, n_units: int, n_boot: int = 999, seed: int = 0,
    alpha: float = 0.05, bootstrap_se: bool = False,
) -> Bands:
    """Pointwise intervals and uniform (sup-t) bands for event-time effects from their influence functions."""
    mb = multiplier_bootstrap([influence], None, n_units=n_units, n_boot=n_boot, seed=seed, alpha=alpha,
                              n_clusters=influence.n_clusters)
    se = mb.se[0] if bootstrap_se else influence_standard_errors(influence, n_units)
    z = stats.norm.ppf(1 - alpha / 2)
    crit = mb.crit[0] if np.isfinite(mb.crit[0]) and mb.crit[0] >= z else z
    return Bands(estimate, se, float(crit), estimate - z * se, estimate + z * se, estimate - crit * se,
                 estimate + crit * se)


@dataclass(frozen=True)
class EventStudyResult:
    outcome: str
    n_units: int
    n_periods: int
    n_obs: int
    effects: tuple[Effect, ...]
    post_average: Estimate
    uniform_crit: float
    alpha: float
    n_boot: int

    def to_dict(self) -> dict[str, Any]:
        return jsonable({
            "method": "event_study",
            "outcome": self.outcome,
            "n_units": self.n_units,
            "n_periods": self.n_periods,
            "n_obs": self.n_obs,
            "att": self.post_average.to_dict(),
            "uniform_critical_value": self.uniform_crit,
            "event_study": [
                {"relative_period": float(e.relative_period), "estimate": e.estimate, "se": e.se,
                 "ci_low": e.ci_low, "ci_high": e.ci_high, "ci_low_uniform": e.ci_low_uniform,
                 "ci_high_uniform": e.ci_high_uniform}
                for e in self.effects
            ],
        })

    def summary(self) -> str:
        lines = [f"Event study — {self.outcome} (uniform band critical value {self.uniform_crit:.2f}, "
                 f"{self.n_boot} multiplier-bootstrap draws)"]
        for e in self.effects:
            lines.append(f"  e={float(e.relative_period):>5g}  {e.estimate:9.4f}  SE {e.se:.4f}  "
                         f"band [{e.ci_low_uniform:.4f}, {e.ci_high_uniform:.4f}]")
        a = self.post_average
        lines.append(f"Average post-treatment effect: {a.estimate:.4f} (SE {a.se:.4f})")
        return "\n".join(lines)

    def plot(self, *, uniform: bool = True):
        return event_study_plot(self.effects, outcome=self.outcome, uniform=uniform, alpha=self.alpha)


def event_study(
    data: pd.DataFrame, *, outcome: str, unit: str, time: str, cohort: str | None = None,
    treatment: str | None = None, control: Control = "never", estimation: Estimation = "dr",
    covariates: Sequence[str] = (), anticipation: float = 0, cluster: str | None = None,
    weights: str | None = None, min_e: float = -np.inf, max_e: float = np.inf, n_boot: int = 999,
    bootstrap_se: bool = False, alpha: float = 0.05, seed: int = 0,
) -> EventStudyResult:
    """Event-study effects for relative periods in [min_e, max_e] with pointwise and uniform bands."""
    if min_e > max_e:
        raise EngineInputError("min_e must not exceed max_e.")
    panel = build_panel(data, outcome=outcome, unit=unit, time=time, cohort=cohort, treatment=treatment,
                        covariates=covariates, weights=weights, cluster=cluster)
    unit_clusters = np.array_equal(panel.cluster, np.arange(panel.n_units))
    gt = compute_att_gt(panel.y, panel.times, panel.cohort, covariates=panel.covariates, weights=panel.weights,
                        cluster=None if unit_clusters else panel.cluster, control=control, estimation=estimation,
                        anticipation=anticipation)
    agg = aggregate(gt, "dynamic", min_e=min_e, max_e=max_e)
    if agg.labels.size == 0:
        raise EngineInputError("No event time falls in the requested window.")
    b = event_study_bands(agg.att, agg.influence(gt), n_units=gt.n_units, n_boot=n_boot, seed=seed, alpha=alpha,
                          bootstrap_se=bootstrap_se)
    effects = []
    for i, e in enumerate(agg.labels):
        lo, hi, p = normal_ci(float(b.estimate[i]), float(b.se[i]), alpha)
        effects.append(Effect(relative_period=float(e), estimate=float(b.estimate[i]), se=float(b.se[i]),
                              ci_low=lo, ci_high=hi, ci_low_uniform=float(b.band_low[i]),
                              ci_high_uniform=float(b.band_high[i]), p_value=p))
    se_avg = float(influence_standard_errors(agg.overall_influence(gt), gt.n_units)[0])
    lo, hi, p = normal_ci(agg.overall_att, se_avg, alpha)
    return EventStudyResult(panel.outcome, panel.n_units, panel.n_periods, panel.n_obs, tuple(effects),
                            Estimate(agg.overall_att, se_avg, lo, hi, p), b.crit, alpha, n_boot)
