"""Plotly figures for DiD-family results (event study with bands, group-time effects, Bacon scatter).

Figures are returned, never shown or written: the web app embeds them, the CLI can save them. Texts are in
English; each figure's ``layout.meta`` and each trace's ``meta`` name what they show (``figure``, ``role``
and their parameters) so that an interface can relabel them in its own language.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go


def _num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return v


def event_study_plot(effects: Sequence, *, outcome: str, uniform: bool = True, alpha: float = 0.05) -> go.Figure:
    """Event-study coefficients with pointwise error bars and a shaded uniform (simultaneous) band."""
    e = np.array([_num(x.relative_period) for x in effects], dtype=float)
    est = np.array([x.estimate for x in effects], dtype=float)
    lo = np.array([x.ci_low for x in effects], dtype=float)
    hi = np.array([x.ci_high for x in effects], dtype=float)
    level = int(round(100 * (1 - alpha)))
    fig = go.Figure()
    if uniform:
        ulo = np.array([x.ci_low_uniform for x in effects], dtype=float)
        uhi = np.array([x.ci_high_uniform for x in effects], dtype=float)
        if np.isfinite(ulo).any():
            fig.add_trace(
                go.Scatter(
                    x=np.concatenate([e, e[::-1]]),
                    y=np.concatenate([uhi, ulo[::-1]]),
                    fill="toself",
                    fillcolor="rgba(31,119,180,0.15)",
                    line={"width": 0},
                    hoverinfo="skip",
                    name=f"Uniform {level}% band",
                    meta={"role": "uniform_band", "level": level},
                )
            )
    colors = ["#7f7f7f" if v < 0 else "#1f77b4" for v in e]
    fig.add_trace(
        go.Scatter(
            x=e,
            y=est,
            mode="markers",
            marker={"color": colors, "size": 8},
            error_y={"type": "data", "symmetric": False, "array": hi - est, "arrayminus": est - lo},
            name=f"ATT (pointwise {level}% CI)",
            meta={"role": "att", "level": level},
        )
    )
    fig.add_hline(y=0, line={"color": "black", "width": 1})
    fig.add_vline(x=-0.5, line={"color": "grey", "dash": "dash", "width": 1})
    fig.update_layout(
        title=f"Event study — {outcome}",
        xaxis_title="Periods relative to treatment",
        yaxis_title=f"Effect on {outcome}",
        template="plotly_white",
        meta={"figure": "event_study", "outcome": outcome},
    )
    return fig


def group_time_plot(effects: Sequence, *, outcome: str) -> go.Figure:
    """ATT(g,t) against time, one trace per cohort, with pointwise intervals."""
    fig = go.Figure()
    cohorts = sorted({_num(x.cohort) for x in effects})
    for g in cohorts:
        rows = [x for x in effects if _num(x.cohort) == g]
        t = [_num(x.time) for x in rows]
        est = np.array([x.estimate for x in rows], dtype=float)
        lo = np.array([x.ci_low for x in rows], dtype=float)
        hi = np.array([x.ci_high for x in rows], dtype=float)
        fig.add_trace(
            go.Scatter(
                x=t,
                y=est,
                mode="lines+markers",
                error_y={"type": "data", "symmetric": False, "array": hi - est, "arrayminus": est - lo},
                name=f"Cohort {g:g}" if isinstance(g, float) else f"Cohort {g}",
            )
        )
    fig.add_hline(y=0, line={"color": "black", "width": 1})
    fig.update_layout(title=f"ATT(g,t) — {outcome}", xaxis_title="Period", yaxis_title="ATT", template="plotly_white")
    return fig


def bacon_plot(bacon) -> go.Figure:
    """Goodman-Bacon scatter: 2x2 estimate against its weight, by comparison type."""
    fig = go.Figure()
    for kind in sorted({c.kind for c in bacon.components}):
        comps = [c for c in bacon.components if c.kind == kind]
        fig.add_trace(
            go.Scatter(
                x=[c.weight for c in comps],
                y=[c.estimate for c in comps],
                mode="markers",
                name=kind,
                meta={"role": kind},
                text=[f"treated {c.treated} vs control {c.control}" for c in comps],
            )
        )
    fig.add_hline(y=bacon.twfe_estimate, line={"dash": "dash"}, annotation_text="TWFE")
    fig.update_layout(
        title="Goodman-Bacon decomposition", xaxis_title="Weight", yaxis_title="2x2 DiD estimate",
        template="plotly_white", meta={"figure": "bacon"},
    )
    return fig
