"""A sixth estimator, as small as an estimator can be, to show what adding one takes: this module, one
`Estimator(...)` registration, its tests. The command line, the web run form, the results page and the
JSON contract then offer it without a line of their own (tests/engine/test_registry.py,
tests/web/evaluations/test_registered_estimator.py).

The estimate is the difference in differences of group means, per cohort: (cohort after - cohort before)
minus (never treated after - never treated before), "after" being from the cohort's first treated period
on; cohorts are averaged by their number of units. No inference: the standard error, interval and p-value
are NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from tremplin.engine import EngineInputError, Estimator
from tremplin.engine.estimators.results import Effect, Estimate, EstimatorResult, jsonable
from tremplin.engine.options import checked_options

NAN = math.nan


@dataclass(frozen=True)
class MeansResult(EstimatorResult):
    outcome: str
    changes: dict[float, tuple[int, float]]  # cohort -> (units, difference in differences of its means)
    by_period: tuple[tuple[int, float], ...]  # (relative period, treated minus never treated mean)
    warnings: tuple[str, ...] = field(default=())

    @property
    def att(self) -> Estimate:
        units = sum(n for n, _ in self.changes.values())
        return Estimate(sum(n * d for n, d in self.changes.values()) / units, NAN, NAN, NAN, NAN)

    def to_dict(self) -> dict[str, Any]:
        return jsonable({"method": "tiny", "outcome": self.outcome, "att": self.att.to_dict(),
                         "cohorts": [{"cohort": g, "units": n, "estimate": d} for g, (n, d) in self.changes.items()],
                         "warnings": list(self.warnings)})

    def summary(self) -> str:
        return f"Difference in differences of means — outcome {self.outcome}: {self.att.estimate:.4f}"

    def figures(self) -> dict[str, Any]:
        fig = go.Figure(go.Scatter(x=[e for e, _ in self.by_period], y=[g for _, g in self.by_period]))
        fig.update_layout(meta={"figure": "means_gap", "outcome": self.outcome})
        return {"means_gap": fig}

    def event_time(self) -> tuple[Effect, ...]:
        return tuple(Effect(relative_period=e, estimate=g) for e, g in self.by_period)


@checked_options("tiny")
def difference_of_means(data: pd.DataFrame, *, outcome: str, unit: str, time: str, cohort: str | None = None,
                        treatment: str | None = None, seed: int = 0) -> MeansResult:
    """`seed` is accepted (and unused) so that interfaces pass theirs, as to every estimator."""
    if cohort is None or treatment is not None:
        raise EngineInputError("The difference of means needs `cohort`.")
    never = data[data[cohort] == 0]
    if never.empty:
        raise EngineInputError("No control: the difference of means needs never-treated units.")
    changes, gaps = {}, {}
    for g, rows in data[data[cohort] > 0].groupby(cohort):
        def change(frame, g=g):
            return frame.loc[frame[time] >= g, outcome].mean() - frame.loc[frame[time] < g, outcome].mean()

        changes[float(g)] = (int(rows[unit].nunique()), float(change(rows) - change(never)))
        gap = rows.groupby(time)[outcome].mean() - never.groupby(time)[outcome].mean()
        for t, v in gap.items():
            gaps.setdefault(int(t - g), []).append(float(v))
    by_period = tuple((e, float(np.mean(v))) for e, v in sorted(gaps.items()))
    return MeansResult(outcome=outcome, changes=changes, by_period=by_period)


TINY = Estimator("tiny", difference_of_means, effect_figure="means_gap",
                 labels={"en": "Difference of means (test)", "fr": "Différence des moyennes (test)"})
