"""Plotly figures of the funding analyses."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go


def tornado(result: dict[str, Any]):
    """Tornado chart of a sensitivity result: net savings at each parameter's low and high values."""
    sens = result["sensitivity"]
    base = sens["base_net_savings"]
    rows = list(reversed(sens["parameters"]))  # largest swing on top
    labels = [r["parameter"] for r in rows]
    fig = go.Figure()
    fig.add_trace(go.Bar(y=labels, x=[r["net_savings_low"] - base for r in rows], base=base, orientation="h",
                         name="low", text=[f"{r['low']:g}" for r in rows], customdata=[r["net_savings_low"] for r in rows],
                         hovertemplate="%{y} = %{text}: net savings %{customdata:,.0f} €"))
    fig.add_trace(go.Bar(y=labels, x=[r["net_savings_high"] - base for r in rows], base=base, orientation="h",
                         name="high", text=[f"{r['high']:g}" for r in rows],
                         customdata=[r["net_savings_high"] for r in rows],
                         hovertemplate="%{y} = %{text}: net savings %{customdata:,.0f} €"))
    fig.add_vline(x=base, line_dash="dot")
    fig.update_layout(template="plotly_white", barmode="overlay",
                      title=f"Sensitivity of net savings — {result['model']} (base {base:,.0f} € per year)",
                      xaxis_title="net savings (€ per year)", margin={"l": 160, "r": 20, "t": 60, "b": 40},
                      legend={"orientation": "h"})
    return fig
