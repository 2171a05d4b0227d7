"""Timeline figure of an experiment (Plotly figure as JSON; drawn by static/tremplin/portfolio-chart.js)."""

from __future__ import annotations

import json
from datetime import date

from django.utils import timezone
from django.utils.translation import gettext as _

from tremplin.web.portfolio import selectors
from tremplin.web.portfolio.models import Experiment, Stage

COLOURS = {"done": "#2e7d32", "late": "#c62828", "due": "#1565c0", "gate": "#6a1b9a", "deadline": "#ef6c00"}


def timeline_figure(experiment: Experiment, *, today: date | None = None) -> dict:
    """Milestones (done / late / due), gate reviews, deadlines and the authorisation window on one time axis."""
    import plotly.graph_objects as go

    today = today or timezone.localdate()
    fig = go.Figure()
    labels = {"done": _("Jalon atteint"), "late": _("Jalon en retard"), "due": _("Jalon à venir")}
    by_state: dict[str, list] = {"done": [], "late": [], "due": []}
    for m in experiment.milestones.all():
        by_state[m.state_on(today)].append(m)
    row_milestones, row_gates, row_deadlines, row_window = (_("Jalons"), _("Revues de passage"), _("Échéances"),
                                                            _("Autorisation"))
    for state, items in by_state.items():
        if items:
            fig.add_trace(go.Scatter(
                x=[(m.done_on or m.due_date).isoformat() for m in items], y=[row_milestones] * len(items),
                mode="markers", name=labels[state], text=[m.name for m in items], hoverinfo="text+x",
                marker={"size": 12, "color": COLOURS[state], "symbol": "diamond"}))
    gates = list(selectors.gate_history(experiment=experiment))
    if gates:
        fig.add_trace(go.Scatter(
            x=[g.decided_on.isoformat() for g in gates], y=[row_gates] * len(gates), mode="markers",
            name=_("Revue de passage"), hoverinfo="text+x",
            text=[f"{g.get_decision_display()} ({Stage(g.stage).label} → {Stage(g.stage_after).label})"
                  for g in gates], marker={"size": 12, "color": COLOURS["gate"], "symbol": "square"}))
    deadlines = [(d, on) for d, on in selectors.resolved_deadlines(experiment=experiment) if on is not None]
    if deadlines:
        fig.add_trace(go.Scatter(
            x=[on.isoformat() for _d, on in deadlines], y=[row_deadlines] * len(deadlines), mode="markers",
            name=_("Échéance"), text=[d.name for d, _on in deadlines], hoverinfo="text+x",
            marker={"size": 12, "color": COLOURS["deadline"], "symbol": "triangle-up"}))
    if experiment.start_date and experiment.authorisation_end:
        fig.add_trace(go.Scatter(
            x=[experiment.start_date.isoformat(), experiment.authorisation_end.isoformat()],
            y=[row_window, row_window], mode="lines+markers", name=_("Période autorisée"),
            line={"width": 8, "color": "#90a4ae"}, hoverinfo="x"))
    fig.add_vline(x=today.isoformat(), line_dash="dot", line_color="#555")
    fig.update_layout(height=320, margin={"l": 140, "r": 20, "t": 20, "b": 40}, showlegend=True,
                      legend={"orientation": "h", "y": -0.25}, xaxis={"type": "date"},
                      template="plotly_white")
    return json.loads(fig.to_json())
