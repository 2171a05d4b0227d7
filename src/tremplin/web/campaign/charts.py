"""KPIs over time (Plotly figure as JSON; drawn by static/tremplin/portfolio-chart.js with the vendored plotly.js).

One small chart per KPI, on a common axis: days since the campaign's start, so that the previous campaign's
series sits on the same scale. Readable without colour: the current campaign is a solid line with round markers,
the previous one a dashed line with square markers (its final result a dotted line), goals are stars; the legend
names each, and the page repeats the numbers in a table.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

from django.utils.translation import get_language
from django.utils.translation import gettext as _

from tremplin.web.campaign.models import Campaign, Metric

CURRENT, PREVIOUS, GOAL = "#0b5394", "#D55E00", "#1e6b34"
COLUMNS = 2


def _days(start: date, on: date) -> int:
    return (on - start).days


def kpi_figure(campaign: Campaign, *, series: dict[str, list[tuple[date, Decimal]]],
               previous: Campaign | None, previous_series: dict[str, list[tuple[date, Decimal]]],
               goals: list) -> dict:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    labels = [str(label) for _value, label in Metric.choices]
    rows = -(-len(labels) // COLUMNS)
    fig = make_subplots(rows=rows, cols=COLUMNS, subplot_titles=labels, horizontal_spacing=0.1,
                        vertical_spacing=0.12)
    shown: set[str] = set()
    day_label = _("Jours depuis le début de la campagne")

    def legend(name: str) -> bool:
        first = name not in shown
        shown.add(name)
        return first

    for i, metric in enumerate(Metric.values):
        row, col = i // COLUMNS + 1, i % COLUMNS + 1
        ends = [_days(campaign.starts_on, campaign.ends_on)] if campaign.ends_on else []
        points = series.get(metric, [])
        name = campaign.name
        if points:
            fig.add_trace(go.Scatter(
                x=[_days(campaign.starts_on, on) for on, _v in points], y=[float(v) for _on, v in points],
                mode="lines+markers", name=name, legendgroup="current", showlegend=legend("current"),
                line={"color": CURRENT, "width": 3}, marker={"symbol": "circle", "size": 8},
                customdata=[on.isoformat() for on, _v in points],
                hovertemplate="%{customdata}: %{y:,.0f}<extra>" + name.replace("%", "%%") + "</extra>"),
                row=row, col=col)
            ends.append(_days(campaign.starts_on, points[-1][0]))
        before = previous_series.get(metric, []) if previous is not None else []
        if before:
            pname = previous.name
            xs = [_days(previous.starts_on, on) for on, _v in before]
            fig.add_trace(go.Scatter(
                x=xs, y=[float(v) for _on, v in before], mode="lines+markers", name=pname, legendgroup="previous",
                showlegend=legend("previous"), line={"color": PREVIOUS, "dash": "dash", "width": 2},
                marker={"symbol": "square", "size": 8}, customdata=[on.isoformat() for on, _v in before],
                hovertemplate="%{customdata}: %{y:,.0f}<extra>" + pname.replace("%", "%%") + "</extra>"),
                row=row, col=col)
            final = float(before[-1][1])
            span = max([*ends, *xs, 1])
            fig.add_trace(go.Scatter(
                x=[0, span], y=[final, final], mode="lines", name=_("Résultat final de la campagne précédente"),
                legendgroup="previous-final", showlegend=legend("previous-final"), hoverinfo="y",
                line={"color": PREVIOUS, "dash": "dot", "width": 1}), row=row, col=col)
        targets = [g for g in goals if g.goal.metric == metric]
        if targets:
            fig.add_trace(go.Scatter(
                x=[_days(campaign.starts_on, g.goal.target_date) for g in targets],
                y=[float(g.goal.target) for g in targets], mode="markers", name=_("Objectif"), legendgroup="goal",
                showlegend=legend("goal"), marker={"symbol": "star", "size": 14, "color": GOAL},
                text=[g.goal.label or g.goal.target_date.isoformat() for g in targets],
                hovertemplate="%{text}: %{y:,.0f}<extra></extra>"), row=row, col=col)
        fig.update_xaxes(title_text=day_label if row == rows else None, rangemode="tozero", row=row, col=col)
        fig.update_yaxes(rangemode="tozero", separatethousands=True, row=row, col=col)
    fig.update_layout(height=300 * rows, margin={"l": 60, "r": 20, "t": 40, "b": 60}, template="plotly_white",
                      legend={"orientation": "h", "y": -0.08},
                      separators=", " if (get_language() or "fr").startswith("fr") else ".,")
    return json.loads(fig.to_json())
