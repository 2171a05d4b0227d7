"""The evaluated effect and its uncertainty.

An `Effect` is a relative change of an outcome (`-0.12`: 12 % fewer of the outcome's events), with its standard
error and interval, or the bootstrap draws of an evaluation run when it has them. `effect_from_json` reads it from
the result of an evaluation: the web platform's run result (its `headline` gives the effect relative to the
treated units' baseline) or `tremplin estimate --format json` (its `att` is on the outcome's scale: it is divided
by the baseline — given, or computed from the dataset's panel as the mean outcome of the treated units before
their start, the definition the platform's evaluation report uses).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np

from tremplin.funding.errors import FundingInputError
from tremplin.funding.piecewise import LOWER
from tremplin.funding.population import DEFAULT_OUTCOME, EFFECT_OUTCOMES


@dataclass(frozen=True, eq=False)
class Effect:
    """A relative effect with its uncertainty (normal with `se`, or resampled `draws`)."""

    estimate: float
    se: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    draws: np.ndarray | None = None
    outcome: str = DEFAULT_OUTCOME
    level: float = 0.95
    source: str = "option"

    def __post_init__(self) -> None:
        if not math.isfinite(self.estimate) or self.estimate < LOWER:
            raise FundingInputError(f"the effect is a relative change of at least -1 (got {self.estimate!r}).")
        if self.se is not None and (not math.isfinite(self.se) or self.se < 0):
            raise FundingInputError(f"the effect's standard error must be a non-negative number (got {self.se!r}).")
        if self.draws is not None:
            d = np.asarray(self.draws, dtype=float)
            if d.ndim != 1 or len(d) == 0 or not np.isfinite(d).all():
                raise FundingInputError("the effect's bootstrap draws must be a non-empty list of numbers.")

    @property
    def distribution(self) -> str:
        return "bootstrap" if self.draws is not None else "normal" if self.se else "point"

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """`n` draws of the effect (bootstrap draws resampled, else normal), clipped at -1 (everything removed)."""
        if self.draws is not None:
            e = rng.choice(np.asarray(self.draws, dtype=float), size=n, replace=True)
        elif self.se:
            e = rng.normal(self.estimate, self.se, size=n)
        else:
            e = np.full(n, self.estimate)
        return np.maximum(e, LOWER)

    def interval(self) -> tuple[float, float] | None:
        """The interval (given, else estimate ± z·se), or None."""
        if self.ci_low is not None and self.ci_high is not None:
            return float(self.ci_low), float(self.ci_high)
        if self.se:
            z = NormalDist().inv_cdf(0.5 + self.level / 2)
            return self.estimate - z * self.se, self.estimate + z * self.se
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "estimate": self.estimate, "se": self.se, "ci_low": self.ci_low,
                "ci_high": self.ci_high, "level": self.level, "distribution": self.distribution,
                "bootstrap_draws": None if self.draws is None else len(self.draws), "source": self.source}


def _se_from_interval(low, high, level) -> float | None:
    if low is None or high is None:
        return None
    return (float(high) - float(low)) / (2 * NormalDist().inv_cdf(0.5 + level / 2))


def _draws(doc: dict[str, Any]) -> list | None:
    """Bootstrap draws of the ATT (outcome scale) when the result carries them: `att.draws` or `bootstrap_draws`."""
    att = doc.get("att") if isinstance(doc.get("att"), dict) else {}
    draws = att.get("draws") or doc.get("bootstrap_draws")
    if draws is not None and (not isinstance(draws, list) or not all(
            isinstance(d, int | float) and not isinstance(d, bool) for d in draws)):
        raise FundingInputError("the run's bootstrap draws must be a list of numbers.")
    return draws or None


def effect_from_json(doc: dict[str, Any], *, baseline: float | None = None, source: str = "run") -> Effect:
    """The relative effect of an evaluation result (see the module docstring)."""
    if not isinstance(doc, dict):
        raise FundingInputError("the run file must hold one JSON object (tremplin estimate --format json).")
    outcome = doc.get("outcome", DEFAULT_OUTCOME)
    if outcome not in EFFECT_OUTCOMES:
        raise FundingInputError(f"the run's outcome {outcome!r} cannot be applied by the funding models; allowed "
                                f"values: {', '.join(EFFECT_OUTCOMES)}.")
    alpha = (doc.get("inference") or {}).get("alpha", 0.05) if isinstance(doc.get("inference"), dict) else 0.05
    level = 1 - float(alpha)
    headline = doc.get("headline")
    if isinstance(headline, dict) and headline.get("relative") is not None:
        base = headline.get("baseline")
        se = doc.get("se")
        rel_se = float(se) / float(base) if se is not None and base else _se_from_interval(
            headline.get("relative_ci_low"), headline.get("relative_ci_high"), level)
        draws = _draws(doc)
        return Effect(estimate=float(headline["relative"]), se=rel_se, ci_low=headline.get("relative_ci_low"),
                      ci_high=headline.get("relative_ci_high"),
                      draws=np.asarray(draws, float) / float(base) if draws and base else None, outcome=outcome,
                      level=level, source=source)
    att = doc.get("att")
    if not isinstance(att, dict) or att.get("estimate") is None:
        raise FundingInputError("the run file has no effect: expected `att.estimate` (tremplin estimate --format "
                                "json) or `headline.relative` (a platform evaluation run).")
    if baseline is None:
        baseline = doc.get("baseline")
    if baseline is None or not math.isfinite(float(baseline)) or float(baseline) <= 0:
        raise FundingInputError("cannot express the run's effect relative to a baseline: the baseline (mean outcome "
                                "of the treated units before their start) is missing or not positive.")
    b = float(baseline)

    def rel(x):
        return None if x is None else float(x) / b

    if float(att["estimate"]) / b < LOWER:
        raise FundingInputError(
            f"the run's effect, {float(att['estimate']):g} on a baseline of {b:g}, is a relative change of "
            f"{float(att['estimate']) / b:+.0%}: below -100 %, too imprecise to apply (more territories or a longer "
            "follow-up would narrow it).")
    se = rel(att.get("se"))
    if se is None:
        se = _se_from_interval(rel(att.get("ci_low")), rel(att.get("ci_high")), level)
    draws = _draws(doc)
    return Effect(estimate=float(att["estimate"]) / b, se=se, ci_low=rel(att.get("ci_low")),
                  ci_high=rel(att.get("ci_high")), draws=None if not draws else np.asarray(draws, float) / b,
                  outcome=outcome, level=level, source=source)


def treated_baseline(data_dir: str | Path, outcome: str, *, n_units: int | None = None,
                     n_periods: int | None = None) -> float:
    """Mean outcome of the treated units before their start, on the panel the estimate was made on.

    The territory panel is rebuilt from the dataset (intervention dates from its `interventions` or `truth.json`
    file), by month, quarter or year: the first with the estimate's numbers of units and periods (the JSON's
    `n_units`, `n_periods`), or the monthly panel when they are not given.
    """
    from tremplin.engine.panel import build_panel  # noqa: PLC0415 -- slow import

    for period in ("month", "quarter", "year"):
        panel = build_panel(data_dir, unit="territory", period=period, outcomes=[outcome]).to_pandas()
        if n_units is not None and n_periods is not None and (
                panel["unit_id"].nunique() != n_units or panel["period"].nunique() != n_periods):
            continue
        treated = panel[panel["cohort"] > 0]
        value = float(treated.loc[treated["period"] < treated["cohort"], outcome].mean())
        if not math.isfinite(value):
            raise FundingInputError(f"{data_dir}: no treated territory with periods before its start, so no baseline "
                                    "to express the effect relative to; add its `baseline` to the run file.")
        return value
    raise FundingInputError(
        f"cannot find the panel the estimate was made on ({n_units} units, {n_periods} periods) among the monthly, "
        "quarterly and yearly territory panels of the dataset; add its `baseline` to the run file.")
