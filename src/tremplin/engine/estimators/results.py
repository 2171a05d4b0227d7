"""The interface every estimator's result satisfies (`EstimatorResult`), and the result objects of the
DiD family: frozen dataclasses with `summary()` (text), `to_dict()` (the stable JSON contract of the
engine, printed by `tremplin estimate --format json`) and Plotly figures.
"""

from __future__ import annotations

import datetime
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tremplin.engine.estimators.plots import bacon_plot, event_study_plot, group_time_plot

__all__ = [
    "BaconComponent",
    "BaconDecomposition",
    "CSResult",
    "Effect",
    "Estimate",
    "EstimatorResult",
    "InferenceInfo",
    "PretrendTest",
    "TWFEResult",
    "finite_or_none",
    "jsonable",
    "py_scalar",
]


def jsonable(value: Any) -> Any:
    """Convert NumPy scalars/arrays to plain Python; NaN/inf become None (valid JSON)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, np.datetime64):
        return str(np.datetime_as_string(value, unit="s"))
    if hasattr(value, "isoformat"):  # datetime, date, pandas Timestamp
        return value.isoformat()
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        f = float(value)
        if not math.isfinite(f):
            return None
        return f
    return value


def py_scalar(x: Any) -> Any:
    """Plain Python scalar for JSON (dates as ISO strings: a date alone when there is no time of day)."""
    if isinstance(x, np.datetime64 | pd.Timestamp | datetime.date):
        ts = pd.Timestamp(x)
        return ts.date().isoformat() if ts == ts.normalize() else ts.isoformat()
    if isinstance(x, np.generic):
        return x.item()
    return x


def finite_or_none(x: float | None) -> float | None:
    """A float, or None when it is missing or not finite (valid JSON)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _label(v: Any) -> Any:
    """Cohort/time labels: integers stay integers in JSON."""
    if isinstance(v, float | np.floating) and float(v).is_integer():
        return int(v)
    if isinstance(v, np.integer):
        return int(v)
    return jsonable(v)


def _fmt(x: float, digits: int = 4) -> str:
    return "NA" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


@dataclass(frozen=True)
class Estimate:
    """A scalar estimate with standard error, confidence interval and p-value.

    NaN marks what a method does not provide (a synthetic control has no standard error nor interval: its
    p-value ranks the effect among placebos). `draws` holds draws of the estimate when the method makes
    them (None otherwise); `to_dict()` leaves them out.
    """

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    draws: np.ndarray | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {
                "estimate": self.estimate,
                "se": self.se,
                "ci_low": self.ci_low,
                "ci_high": self.ci_high,
                "p_value": self.p_value,
            }
        )


@dataclass(frozen=True)
class Effect:
    """One row of a disaggregated effect table (group-time, event time, cohort or calendar period)."""

    cohort: Any = None
    time: Any = None
    relative_period: Any = None
    estimate: float = float("nan")
    se: float = float("nan")
    ci_low: float = float("nan")
    ci_high: float = float("nan")
    ci_low_uniform: float = float("nan")
    ci_high_uniform: float = float("nan")
    p_value: float = float("nan")
    post: bool | None = None


@dataclass(frozen=True)
class InferenceInfo:
    """How uncertainty was computed, on how many clusters, and whether it is fragile."""

    method: str
    cluster: str
    n_clusters: int
    n_treated_clusters: int
    alpha: float = 0.05
    n_boot: int | None = None
    seed: int | None = None
    wild_bootstrap_p_value: float | None = None
    wild_bootstrap_weights: str | None = None
    randomization_p_value: float | None = None
    randomization_permutations: int | None = None
    fragile: bool = False

    def to_dict(self) -> dict[str, Any]:
        return jsonable({k: getattr(self, k) for k in self.__dataclass_fields__})


@dataclass(frozen=True)
class PretrendTest:
    """Wald test that all pre-treatment ATT(g,t) are zero (chi-square, analytic covariance)."""

    statistic: float
    df: int
    p_value: float


@dataclass(frozen=True)
class BaconComponent:
    kind: str  # "treated vs never treated", "earlier vs later treated", "later vs earlier treated"
    treated: Any
    control: Any
    estimate: float
    weight: float


@dataclass(frozen=True)
class BaconDecomposition:
    """Goodman-Bacon (2021) decomposition of the TWFE coefficient into 2x2 comparisons."""

    components: tuple[BaconComponent, ...]
    twfe_estimate: float
    forbidden_weight: float  # weight on "later vs earlier treated" comparisons (already-treated controls)

    def by_kind(self) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for c in self.components:
            d = out.setdefault(c.kind, {"weight": 0.0, "weighted_estimate": 0.0})
            d["weight"] += c.weight
            d["weighted_estimate"] += c.weight * c.estimate
        for d in out.values():
            d["estimate"] = d["weighted_estimate"] / d["weight"] if d["weight"] > 0 else float("nan")
            del d["weighted_estimate"]
        return out

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {
                "twfe_estimate": self.twfe_estimate,
                "forbidden_weight": self.forbidden_weight,
                "by_kind": self.by_kind(),
                "components": [
                    {
                        "kind": c.kind,
                        "treated": _label(c.treated),
                        "control": _label(c.control),
                        "estimate": c.estimate,
                        "weight": c.weight,
                    }
                    for c in self.components
                ],
            }
        )

    def plot(self):
        return bacon_plot(self)


class EstimatorResult(ABC):
    """What every estimator's result offers, whatever the method (the model: pyfixest's `did.DID` base class).

    - `att`: the headline effect, an `Estimate`;
    - `warnings`: plain-language caveats (few clusters, rejected pre-trends, a poor pre-treatment fit...);
    - `to_dict()`: the stable JSON contract; `summary()`: a text report;
    - `figures()`: the Plotly figures, by name, in the order a report shows them;
    - `event_time()`: effects by period relative to the start, when the method has them;
    - `pretrend_test()`: the joint test of parallel pre-trends, when the method computes one.
    """

    outcome: str
    att: Estimate
    warnings: tuple[str, ...]

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """The JSON contract (plain Python: numbers, strings, lists, dicts; NaN as None)."""

    @abstractmethod
    def summary(self) -> str:
        """A text report."""

    @abstractmethod
    def figures(self) -> dict[str, Any]:
        """The result's Plotly figures by name ({} when it has none)."""

    def event_time(self) -> tuple[Effect, ...]:
        """Effects by period relative to the start (`relative_period`; 0 = first treated period)."""
        return ()

    def pretrend_test(self) -> PretrendTest | None:
        """The joint test that every pre-treatment effect is zero, when the method computes one."""
        return None


def _inference_lines(inf: InferenceInfo) -> list[str]:
    lines = [f"Inference: {inf.method}; {inf.n_clusters} clusters ({inf.cluster}), {inf.n_treated_clusters} treated"]
    if inf.wild_bootstrap_p_value is not None:
        lines.append(
            f"Wild cluster bootstrap ({inf.wild_bootstrap_weights}, {inf.n_boot} draws): "
            f"p = {_fmt(inf.wild_bootstrap_p_value, 3)}"
        )
    if inf.randomization_p_value is not None:
        lines.append(
            f"Randomisation inference ({inf.randomization_permutations} permutations): "
            f"p = {_fmt(inf.randomization_p_value, 3)}"
        )
    return lines


@dataclass(frozen=True)
class TWFEResult(EstimatorResult):
    """Two-way fixed effects (or canonical 2x2) difference-in-differences result."""

    method: str  # "twfe" or "did"
    outcome: str
    n_units: int
    n_periods: int
    n_obs: int
    att: Estimate
    coefficients: dict[str, Estimate]
    inference: InferenceInfo
    bacon: BaconDecomposition | None = None
    warnings: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "method": self.method,
            "outcome": self.outcome,
            "n_units": self.n_units,
            "n_periods": self.n_periods,
            "n_obs": self.n_obs,
            "att": self.att.to_dict(),
            "coefficients": {k: v.to_dict() for k, v in self.coefficients.items()},
            "inference": self.inference.to_dict(),
            "warnings": list(self.warnings),
        }
        if self.bacon is not None:
            out["bacon"] = self.bacon.to_dict()
        out.update(jsonable(self.extra))
        return jsonable(out)

    def summary(self) -> str:
        title = "Two-way fixed effects DiD" if self.method == "twfe" else "Difference-in-differences (2x2)"
        a = self.att
        lines = [
            f"{title} — outcome: {self.outcome}",
            f"Units: {self.n_units}   Periods: {self.n_periods}   Observations: {self.n_obs}",
            "",
            f"ATT = {_fmt(a.estimate)}  (SE {_fmt(a.se)}, {int(100 * (1 - self.inference.alpha))}% CI "
            f"[{_fmt(a.ci_low)}, {_fmt(a.ci_high)}], p = {_fmt(a.p_value, 3)})",
        ]
        for name, est in self.coefficients.items():
            if name == "treatment":
                continue
            lines.append(f"  {name:<20} {_fmt(est.estimate)}  (SE {_fmt(est.se)})")
        lines += _inference_lines(self.inference)
        if self.bacon is not None:
            lines.append("")
            lines.append("Goodman-Bacon decomposition (weight, average 2x2 estimate):")
            for kind, d in self.bacon.by_kind().items():
                lines.append(f"  {kind:<28} weight {d['weight']:.3f}   estimate {_fmt(d['estimate'])}")
        if self.warnings:
            lines.append("")
            lines += [f"WARNING: {w}" for w in self.warnings]
        return "\n".join(lines)

    def plot_bacon(self):
        """Scatter of the Goodman-Bacon 2x2 estimates against their weights (Plotly)."""
        if self.bacon is None:
            raise ValueError("No Goodman-Bacon decomposition for this result (needs a staggered binary treatment).")
        return self.bacon.plot()

    def figures(self) -> dict[str, Any]:
        """The Goodman-Bacon scatter ("bacon"), when the decomposition was computed."""
        return {} if self.bacon is None else {"bacon": self.plot_bacon()}


@dataclass(frozen=True)
class CSResult(EstimatorResult):
    """Callaway & Sant'Anna (2021) staggered-adoption result with all aggregations."""

    outcome: str
    n_units: int
    n_periods: int
    n_obs: int
    control: str
    estimation: str
    anticipation: float
    att: Estimate
    group_time: tuple[Effect, ...]
    event_study: tuple[Effect, ...]
    groups: tuple[Effect, ...]
    calendar: tuple[Effect, ...]
    dynamic_att: Estimate
    group_att: Estimate
    calendar_att: Estimate
    pretrend: PretrendTest | None
    inference: InferenceInfo
    uniform_crit: float
    warnings: tuple[str, ...] = ()
    method: str = "cs"

    def to_dict(self) -> dict[str, Any]:
        def rows(effects, keys):
            return [{k: (_label(getattr(e, k)) if k in {"cohort", "time", "relative_period"} else getattr(e, k))
                     for k in keys} for e in effects]

        out = {
            "method": self.method,
            "outcome": self.outcome,
            "n_units": self.n_units,
            "n_periods": self.n_periods,
            "n_obs": self.n_obs,
            "control": self.control,
            "estimation": self.estimation,
            "anticipation": self.anticipation,
            "att": self.att.to_dict(),
            "aggregations": {
                "simple": self.att.to_dict(),
                "dynamic": self.dynamic_att.to_dict(),
                "group": self.group_att.to_dict(),
                "calendar": self.calendar_att.to_dict(),
            },
            "event_study": rows(
                self.event_study,
                ["relative_period", "estimate", "se", "ci_low", "ci_high", "ci_low_uniform", "ci_high_uniform"],
            ),
            "groups": rows(self.groups, ["cohort", "estimate", "se", "ci_low", "ci_high"]),
            "calendar": rows(self.calendar, ["time", "estimate", "se", "ci_low", "ci_high"]),
            "group_time": rows(self.group_time, ["cohort", "time", "estimate", "se", "ci_low", "ci_high", "post"]),
            "pretrend_p_value": None if self.pretrend is None else self.pretrend.p_value,
            "pretrend": None
            if self.pretrend is None
            else {"statistic": self.pretrend.statistic, "df": self.pretrend.df, "p_value": self.pretrend.p_value},
            "uniform_critical_value": self.uniform_crit,
            "inference": self.inference.to_dict(),
            "warnings": list(self.warnings),
        }
        return jsonable(out)

    def summary(self) -> str:
        a = self.att
        level = int(round(100 * (1 - self.inference.alpha)))
        est_label = {
            "unconditional": "unconditional (no covariates)",
            "or": "outcome regression",
            "ipw": "inverse probability weighting",
            "dr": "doubly robust (DRDID, traditional panel)",
        }[self.estimation]
        lines = [
            f"Callaway & Sant'Anna (2021) staggered DiD — outcome: {self.outcome}",
            f"Units: {self.n_units}   Periods: {self.n_periods}   Observations: {self.n_obs}",
            f"Control group: {'never treated' if self.control == 'never' else 'not yet treated'}   "
            f"Estimation: {est_label}   Anticipation: {self.anticipation:g}",
            "",
            f"Overall ATT (simple) = {_fmt(a.estimate)}  (SE {_fmt(a.se)}, {level}% CI [{_fmt(a.ci_low)}, "
            f"{_fmt(a.ci_high)}], p = {_fmt(a.p_value, 3)})",
            f"Dynamic (avg. post event times) = {_fmt(self.dynamic_att.estimate)} (SE {_fmt(self.dynamic_att.se)})"
            f"   Group = {_fmt(self.group_att.estimate)} (SE {_fmt(self.group_att.se)})"
            f"   Calendar = {_fmt(self.calendar_att.estimate)} (SE {_fmt(self.calendar_att.se)})",
            "",
            f"Event study (pointwise {level}% CI; uniform band with critical value {_fmt(self.uniform_crit, 2)}):",
            f"  {'e':>4} {'ATT':>9} {'SE':>8} {'CI low':>9} {'CI high':>9} {'band low':>9} {'band high':>9}",
        ]
        for e in self.event_study:
            lines.append(
                f"  {_label(e.relative_period)!s:>4} {_fmt(e.estimate):>9} {_fmt(e.se):>8} {_fmt(e.ci_low):>9} "
                f"{_fmt(e.ci_high):>9} {_fmt(e.ci_low_uniform):>9} {_fmt(e.ci_high_uniform):>9}"
            )
        lines.append("")
        lines.append("By cohort:")
        for g in self.groups:
            lines.append(f"  {_label(g.cohort)!s:>8} {_fmt(g.estimate):>9} (SE {_fmt(g.se)})")
        if self.pretrend is not None:
            lines.append("")
            lines.append(
                f"Pre-trend test (all pre-treatment ATT(g,t) = 0): chi2({self.pretrend.df}) = "
                f"{_fmt(self.pretrend.statistic, 2)}, p = {_fmt(self.pretrend.p_value, 3)}"
            )
        lines += _inference_lines(self.inference)
        if self.warnings:
            lines.append("")
            lines += [f"WARNING: {w}" for w in self.warnings]
        return "\n".join(lines)

    def plot_event_study(self, *, uniform: bool = True):
        """Event-study plot with pointwise intervals and (optionally) the uniform band (Plotly figure)."""
        return event_study_plot(self.event_study, outcome=self.outcome, uniform=uniform,
                                alpha=self.inference.alpha)

    def plot_group_time(self):
        """ATT(g,t) by cohort against calendar time (Plotly figure)."""
        return group_time_plot(self.group_time, outcome=self.outcome)

    def figures(self) -> dict[str, Any]:
        """The event study ("event_study") and the group-time effects ("group_time")."""
        return {"event_study": self.plot_event_study(), "group_time": self.plot_group_time()}

    def event_time(self) -> tuple[Effect, ...]:
        return self.event_study

    def pretrend_test(self) -> PretrendTest | None:
        return self.pretrend
