"""The horizon radar: one sector per domain, one ring per horizon (≤ 3 years inside, 5–10 years outside).

`radar_points` places the signals (pure arithmetic on plain values, deterministic: the same signals always land
on the same spots); `radar_figure` turns the points into a Plotly figure (JSON, drawn by the vendored plotly.js:
the basic bundle has no polar traces, so the radar is drawn on cartesian axes); `radar_table` is the same
information as a table (domain × horizon), for reading without the chart.

Readable without colour: the likelihood is carried by the marker's shape (circle, square, diamond, star) as well
as its colour (Okabe–Ito palette, safe for colour-blind readers), the strongest impact by its size, and every
marker carries the signal's number, which the tables repeat.
"""

from __future__ import annotations

import html
import json
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from tremplin.web.horizon.models import Horizon, SignalDomain

DOMAINS: tuple[str, ...] = tuple(SignalDomain.values)
HORIZONS: tuple[str, ...] = tuple(Horizon.values)  # inner ring first
RING_WIDTH = 1.0
MAX_LANES = 3
SYMBOLS = {1: "circle", 2: "square", 3: "diamond", 4: "star"}
COLOURS = {1: "#56B4E9", 2: "#009E73", 3: "#E69F00", 4: "#D55E00"}  # Okabe–Ito
GLYPHS = {1: "●", 2: "■", 3: "◆", 4: "★"}  # the same shapes, in text (tables, legends)


@dataclass(frozen=True)
class RadarSignal:
    pk: int
    number: int  # the label shown on the marker and in the tables
    title: str
    domain: str
    horizon: str
    likelihood: int  # 1–4
    impact: int  # 0–4, the strongest impact on care organisation
    url: str = ""
    panel_mean: float | None = None
    likelihood_label: str = ""
    domain_label: str = ""
    horizon_label: str = ""

    @property
    def glyph(self) -> str:
        return GLYPHS[self.likelihood]


@dataclass(frozen=True)
class RadarPoint:
    signal: RadarSignal
    radius: float
    angle: float  # degrees, clockwise from the top (12 o'clock)
    x: float
    y: float
    symbol: str
    colour: str
    size: float


def sector(domain: str) -> tuple[float, float]:
    """The angles (degrees, clockwise from the top) between which the domain's signals lie."""
    width = 360.0 / len(DOMAINS)
    k = DOMAINS.index(domain)
    return k * width, (k + 1) * width


def ring(horizon: str) -> tuple[float, float]:
    """The radii between which the horizon's signals lie."""
    h = HORIZONS.index(horizon)
    return h * RING_WIDTH, (h + 1) * RING_WIDTH


def marker_size(impact: int) -> float:
    return 10.0 + 4.0 * impact


def _capacities(n: int, radii: Sequence[float]) -> list[int]:
    """How many of `n` signals each lane holds: in proportion to its radius (its arc's length), at least one."""
    total = sum(radii)
    raw = [n * r / total for r in radii]
    caps = [max(1, math.floor(x)) for x in raw]
    by_remainder = sorted(range(len(radii)), key=lambda i: (caps[i] - raw[i], -radii[i]))
    i = 0
    while sum(caps) < n:
        caps[by_remainder[i % len(radii)]] += 1
        i += 1
    while sum(caps) > n:  # only when n < number of lanes, which `radar_points` avoids
        caps[caps.index(max(caps))] -= 1
    return caps


def radar_points(signals: Sequence[RadarSignal]) -> list[RadarPoint]:
    """Each signal inside its cell (sector × ring), never on a boundary: up to three radial lanes, each holding a
    number of signals in proportion to its arc's length, evenly spaced along it; within a cell the most likely
    signals come first (the lanes are filled in turn, from the inner one)."""
    cells: dict[tuple[str, str], list[RadarSignal]] = defaultdict(list)
    for s in signals:
        cells[(s.domain, s.horizon)].append(s)
    points: list[RadarPoint] = []
    for (domain, horizon), items in cells.items():
        items.sort(key=lambda s: (-s.likelihood, -s.impact, s.title, s.pk))
        a0, a1 = sector(domain)
        r0, r1 = ring(horizon)
        lanes = min(MAX_LANES, len(items))
        radii = [r0 + (r1 - r0) * (lane + 1) / (lanes + 1) for lane in range(lanes)]
        caps = _capacities(len(items), radii)
        used = [0] * lanes
        lane = 0
        for s in items:
            while used[lane] >= caps[lane]:
                lane = (lane + 1) % lanes
            slot = used[lane]
            used[lane] += 1
            radius = radii[lane]
            angle = a0 + (a1 - a0) * (slot + 1) / (caps[lane] + 1)
            lane = (lane + 1) % lanes
            theta = math.radians(angle)
            points.append(RadarPoint(
                signal=s, radius=radius, angle=angle, x=radius * math.sin(theta), y=radius * math.cos(theta),
                symbol=SYMBOLS[s.likelihood], colour=COLOURS[s.likelihood], size=marker_size(s.impact)))
    points.sort(key=lambda p: p.signal.number)
    return points


def radar_table(points: Sequence[RadarPoint]) -> list[tuple[str, list[list[RadarSignal]]]]:
    """(domain, [signals of each horizon]) for every domain, in the radar's order: the chart as a table."""
    by_cell: dict[tuple[str, str], list[RadarSignal]] = defaultdict(list)
    for p in points:
        by_cell[(p.signal.domain, p.signal.horizon)].append(p.signal)
    return [(d, [by_cell.get((d, h), []) for h in HORIZONS]) for d in DOMAINS]


def radar_figure(points: Sequence[RadarPoint], *, domain_labels: dict[str, str], horizon_labels: dict[str, str],
                 likelihood_labels: dict[int, str], impact_labels: dict[int, str], legend_title: str,
                 panel_label: str) -> dict:
    """The Plotly figure (as JSON-ready dict): one trace per likelihood level (legend: shape, colour, label)."""
    import plotly.graph_objects as go

    outer = len(HORIZONS) * RING_WIDTH
    fig = go.Figure()
    by_level: dict[int, list[RadarPoint]] = defaultdict(list)
    for p in points:
        by_level[p.signal.likelihood].append(p)
    for level in sorted(SYMBOLS):
        items = by_level.get(level, [])
        if not items:
            continue
        hover = []
        for p in items:
            s = p.signal
            lines = [f"<b>{s.number}. {html.escape(s.title)}</b>", html.escape(domain_labels[s.domain]),
                     html.escape(horizon_labels[s.horizon]),
                     html.escape(f"{legend_title} : {likelihood_labels[s.likelihood]}"),
                     html.escape(impact_labels[s.impact])]
            if s.panel_mean is not None:
                lines.append(html.escape(f"{panel_label} : {s.panel_mean:.2f} / 4"))
            hover.append("<br>".join(lines))
        fig.add_trace(go.Scatter(
            x=[round(p.x, 6) for p in items], y=[round(p.y, 6) for p in items], mode="markers+text",
            name=f"{legend_title} : {likelihood_labels[level]}",
            text=[str(p.signal.number) for p in items], textposition="top center",
            textfont={"size": 11, "color": "#1b1f24"},
            hovertext=hover, hoverinfo="text", customdata=[p.signal.url for p in items],
            marker={"symbol": SYMBOLS[level], "color": COLOURS[level], "size": [p.size for p in items],
                    "line": {"width": 1.5, "color": "#1b1f24"}}))
    shapes = []
    for h in range(1, len(HORIZONS) + 1):
        r = h * RING_WIDTH
        shapes.append({"type": "circle", "xref": "x", "yref": "y", "x0": -r, "y0": -r, "x1": r, "y1": r,
                       "line": {"color": "#8a939e", "width": 1, "dash": "solid" if h == len(HORIZONS) else "dot"},
                       "layer": "below"})
    annotations = []
    for d in DOMAINS:
        a0, a1 = sector(d)
        theta = math.radians(a0)
        shapes.append({"type": "line", "xref": "x", "yref": "y", "x0": 0, "y0": 0,
                       "x1": round(outer * math.sin(theta), 6), "y1": round(outer * math.cos(theta), 6),
                       "line": {"color": "#cdd3da", "width": 1}, "layer": "below"})
        middle = math.radians((a0 + a1) / 2)
        sin, cos = math.sin(middle), math.cos(middle)
        # Anchored on the side facing the circle, so that a long label never runs over the outer ring.
        annotations.append({"x": round((outer + 0.12) * sin, 6), "y": round((outer + 0.12) * cos, 6),
                            "xanchor": "left" if sin > 0.2 else ("right" if sin < -0.2 else "center"),
                            "yanchor": "bottom" if cos > 0.2 else ("top" if cos < -0.2 else "middle"),
                            "text": html.escape(domain_labels[d]), "showarrow": False, "font": {"size": 12},
                            "xref": "x", "yref": "y"})
    for i, h in enumerate(HORIZONS):
        # On the ring's outer circle, where a sector boundary crosses it: no signal is ever placed there.
        annotations.append({"x": 0, "y": (i + 1) * RING_WIDTH, "text": html.escape(horizon_labels[h]),
                            "showarrow": False, "font": {"size": 11, "color": "#4a5360"}, "xref": "x", "yref": "y",
                            "bgcolor": "rgba(255,255,255,0.85)"})
    limit = outer + 1.1
    fig.update_layout(
        height=680, margin={"l": 10, "r": 10, "t": 10, "b": 10}, template="plotly_white", shapes=shapes,
        annotations=annotations, showlegend=True, legend={"orientation": "h", "y": -0.02},
        xaxis={"range": [-limit, limit], "visible": False, "fixedrange": False},
        yaxis={"range": [-limit, limit], "visible": False, "scaleanchor": "x", "scaleratio": 1})
    return json.loads(fig.to_json())
