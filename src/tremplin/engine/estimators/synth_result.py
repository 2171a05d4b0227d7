"""Synthetic control, the result of one treated unit: `summary()`, `to_dict()` (JSON contract) and figures."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import plotly.graph_objects as go

from tremplin.engine.estimators.results import Effect, Estimate, EstimatorResult, finite_or_none, py_scalar
from tremplin.engine.estimators.synth_fit import SynthFit
from tremplin.engine.estimators.synth_inference import PlaceboResult

__all__ = ["SynthResult"]


@dataclass(frozen=True)
class SynthResult(EstimatorResult):
    """Synthetic-control result: ``summary()``, ``to_dict()`` (JSON contract) and Plotly figures.

    `att` is the average post-treatment gap; a synthetic control has no sampling standard error nor
    interval (NaN), its p-value ranks the treated unit's post/pre RMSPE ratio among the placebos'.
    """

    outcome: str
    unit: str
    time: str
    treated_unit: Any
    treatment_start: Any
    times: np.ndarray
    pre: np.ndarray
    treated: np.ndarray
    donors: np.ndarray  # donor unit labels
    predictor_names: tuple[str, ...]
    fit: SynthFit
    placebo: PlaceboResult | None
    loo_dropped: np.ndarray  # donor labels
    loo_gaps: np.ndarray
    n_units: int
    n_obs: int
    v_method: str
    warnings: tuple[str, ...] = field(default=())

    @property
    def att(self) -> Estimate:
        """Average post-treatment gap, with the placebo p-value (no standard error or interval)."""
        gap = float(np.mean(self.fit.gap[~self.pre]))
        p = float("nan") if self.placebo is None else self.placebo.p_value
        return Estimate(gap, float("nan"), float("nan"), float("nan"), p)

    @property
    def weights(self) -> dict[Any, float]:
        return {py_scalar(u): float(w) for u, w in zip(self.donors, self.fit.weights, strict=True)}

    def to_dict(self) -> dict[str, Any]:
        post = ~self.pre
        placebo = self.placebo
        d: dict[str, Any] = {
            "method": "synth",
            "outcome": self.outcome,
            "treated_unit": py_scalar(self.treated_unit),
            "treatment_start": py_scalar(self.treatment_start),
            "n_units": self.n_units,
            "n_periods": int(self.times.size),
            "n_obs": self.n_obs,
            "n_pre_periods": int(self.pre.sum()),
            "n_post_periods": int(post.sum()),
            "att": {
                "estimate": self.att.estimate,
                "se": None,
                "ci_low": None,
                "ci_high": None,
                "p_value": None if placebo is None else placebo.p_value,
                "inference": "placebo-in-space permutation (post/pre RMSPE ratio rank)",
                "note": "Synthetic control has no sampling standard error; the p-value ranks the treated "
                "unit's post/pre RMSPE ratio among the placebo units' ratios.",
            },
            "synth": {
                "weights": {k: v for k, v in self.weights.items() if v > 0},
                "all_weights": self.weights,
                "v_method": self.v_method,
                "v": dict(zip(self.predictor_names, map(float, self.fit.v), strict=True)),
                "pre_rmspe": self.fit.pre_rmspe,
                "post_rmspe": finite_or_none(self.fit.post_rmspe),
                "rmspe_ratio": finite_or_none(self.fit.ratio),
                "placebo_p_value": None if placebo is None else placebo.p_value,
                "placebo_att_p_value": None if placebo is None else placebo.att_p_value,
                "n_placebos": 0 if placebo is None else int(placebo.units.size),
            },
            "gap_path": [
                {"time": py_scalar(t), "treated": float(y), "synthetic": float(s), "gap": float(g), "post": bool(p)}
                for t, y, s, g, p in zip(
                    self.times, self.treated, self.fit.synthetic, self.fit.gap, post, strict=True
                )
            ],
            "notes": list(self.warnings),
        }
        if placebo is not None:
            d["placebos"] = [
                {
                    "unit": py_scalar(self.donors[i]),
                    "pre_rmspe": float(a),
                    "post_rmspe": float(b),
                    "ratio": finite_or_none(c),
                    "att": float(np.mean(g[post])),
                }
                for i, a, b, c, g in zip(
                    range(placebo.units.size), placebo.pre_rmspe, placebo.post_rmspe, placebo.ratios,
                    placebo.gaps, strict=True,
                )
            ]
        d["leave_one_out"] = [
            {"dropped": py_scalar(u), "att": float(np.mean(g[post]))}
            for u, g in zip(self.loo_dropped, self.loo_gaps, strict=True)
        ]
        return d

    def summary(self) -> str:
        lines = [
            f"Synthetic control — outcome {self.outcome!r}, treated unit {self.treated_unit!r} "
            f"from {self.time}={self.treatment_start!r}",
            f"Donor pool: {self.donors.size} units; {int(self.pre.sum())} pre / {int((~self.pre).sum())} "
            f"post periods; V: {self.v_method}",
            f"Average post-treatment gap (ATT): {self.att.estimate:.4g}",
            f"Pre-treatment RMSPE {self.fit.pre_rmspe:.4g}; post {self.fit.post_rmspe:.4g}; "
            f"ratio {self.fit.ratio:.3g}",
        ]
        if self.placebo is not None:
            n = self.placebo.units.size
            rank = 1 + int(np.sum(self.placebo.ratios > self.fit.ratio * (1 - 1e-12)))
            lines.append(
                f"Placebo-in-space p-value (RMSPE ratio): {self.placebo.p_value:.3f} "
                f"(rank {rank} of {n + 1}; smallest attainable {1 / (n + 1):.3f})"
            )
        lines.append("Weights:")
        for u, w in sorted(self.weights.items(), key=lambda kv: -kv[1]):
            if w >= 5e-4:
                lines.append(f"  {u!s:<24} {w:.3f}")
        if self.loo_dropped.size:
            atts = self.loo_gaps[:, ~self.pre].mean(axis=1)
            lines.append(f"Leave-one-out ATT range: [{atts.min():.4g}, {atts.max():.4g}]")
        lines.extend(f"Note: {n}" for n in self.warnings)
        return "\n".join(lines)

    def plot_gaps(self, *, max_pre_rmspe_ratio: float | None = 5.0):
        """Gap path of the treated unit (bold) over the placebo gaps (grey).

        Placebos whose pre-treatment RMSPE exceeds ``max_pre_rmspe_ratio`` times the treated unit's are
        hidden (as in Abadie et al. 2010); ``None`` shows them all.
        """
        fig = go.Figure()
        x = [py_scalar(t) for t in self.times]
        if self.placebo is not None:
            for i, g in enumerate(self.placebo.gaps):
                if max_pre_rmspe_ratio is not None and (
                    self.placebo.pre_rmspe[i] > max_pre_rmspe_ratio * self.fit.pre_rmspe
                ):
                    continue
                fig.add_trace(go.Scatter(
                    x=x, y=g, mode="lines", line={"color": "lightgrey", "width": 1},
                    name=str(py_scalar(self.donors[i])), showlegend=False, hoverinfo="name",
                ))
        fig.add_trace(go.Scatter(x=x, y=self.fit.gap, mode="lines", line={"color": "black", "width": 3},
                                 name=str(self.treated_unit), meta={"role": "treated_gap"}))
        fig.add_hline(y=0, line_dash="dot")
        fig.add_vline(x=py_scalar(self.treatment_start), line_dash="dash")
        fig.update_layout(template="plotly_white", title=f"Gap in {self.outcome}: treated minus synthetic (placebos in grey)",
                          xaxis_title=self.time, yaxis_title="gap",
                          meta={"figure": "synth_gaps", "outcome": self.outcome, "time": self.time})
        return fig

    def plot_paths(self):
        """Treated and synthetic outcome paths."""
        x = [py_scalar(t) for t in self.times]
        fig = go.Figure()
        fig.add_trace(go.Scatter(x=x, y=self.treated, mode="lines", name=str(self.treated_unit)))
        fig.add_trace(go.Scatter(x=x, y=self.fit.synthetic, mode="lines", line={"dash": "dash"},
                                 name="synthetic"))
        fig.add_vline(x=py_scalar(self.treatment_start), line_dash="dash")
        fig.update_layout(template="plotly_white", title=f"{self.outcome}: treated vs synthetic", xaxis_title=self.time,
                          yaxis_title=self.outcome)
        return fig

    plot = plot_gaps

    def figures(self) -> dict[str, Any]:
        """The gap path over the placebos' ("synth_gaps") and the treated and synthetic paths ("synth_paths")."""
        return {"synth_gaps": self.plot_gaps(), "synth_paths": self.plot_paths()}

    def event_time(self) -> tuple[Effect, ...]:
        """The gap path by period relative to the start (no interval)."""
        first_post = int(np.flatnonzero(~self.pre)[0])
        return tuple(Effect(relative_period=i - first_post, estimate=float(g)) for i, g in enumerate(self.fit.gap))
