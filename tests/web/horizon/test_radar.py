"""Radar data: every signal lands inside its domain's sector and its horizon's ring, never on a boundary, never on
another signal; the likelihood is carried by the marker's shape (readable without colour), the impact by its size;
the figure, its table and the API give the same placement."""

from __future__ import annotations

import itertools
import math

import pytest
from django.urls import reverse

from tests.web.horizon.conftest import make_signal
from tremplin.web.horizon.radar import (
    DOMAINS,
    HORIZONS,
    SYMBOLS,
    RadarSignal,
    radar_points,
    radar_table,
    ring,
    sector,
)


def _signal(pk, domain, horizon, likelihood=2, impact=1):
    return RadarSignal(pk=pk, number=pk, title=f"s{pk}", domain=domain, horizon=horizon, likelihood=likelihood,
                       impact=impact)


def test_sectors_and_rings_by_hand():
    assert DOMAINS == ("ai", "digital", "genomics", "devices", "therapies", "data", "organisation")
    assert HORIZONS == ("short", "medium", "long")
    width = 360 / 7
    assert sector("ai") == (0, pytest.approx(width))
    assert sector("organisation") == (pytest.approx(6 * width), pytest.approx(360))
    assert ring("short") == (0, 1) and ring("medium") == (1, 2) and ring("long") == (2, 3)


def test_a_lone_signal_sits_in_the_middle_of_its_cell():
    (p,) = radar_points([_signal(1, "genomics", "medium")])
    a0, a1 = sector("genomics")
    assert p.angle == pytest.approx((a0 + a1) / 2)
    assert p.radius == pytest.approx(1.5)
    # x, y are the polar position, clockwise from the top: x = r sin(θ), y = r cos(θ)
    assert (p.x, p.y) == (pytest.approx(1.5 * math.sin(math.radians(p.angle))),
                          pytest.approx(1.5 * math.cos(math.radians(p.angle))))


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, 12])
def test_crowded_cells_stay_inside_and_apart(n):
    pk = itertools.count(1)
    signals = [_signal(next(pk), d, h, likelihood=1 + k % 4, impact=k % 5)
               for d, h in itertools.product(DOMAINS, HORIZONS) for k in range(n)]
    points = radar_points(signals)
    assert len(points) == len(signals)
    for p in points:
        a0, a1 = sector(p.signal.domain)
        r0, r1 = ring(p.signal.horizon)
        assert a0 < p.angle < a1 and r0 < p.radius < r1  # strictly inside: never on a sector line or a ring
        angle = math.degrees(math.atan2(p.x, p.y)) % 360
        assert angle == pytest.approx(p.angle, abs=1e-9) and math.hypot(p.x, p.y) == pytest.approx(p.radius)
    closest = min(math.dist((a.x, a.y), (b.x, b.y)) for a, b in itertools.combinations(points, 2))
    assert closest > 0.05


def test_shape_and_size_encode_likelihood_and_impact():
    points = radar_points([_signal(i, "ai", "short", likelihood=i, impact=i - 1) for i in (1, 2, 3, 4)])
    assert [p.symbol for p in points] == ["circle", "square", "diamond", "star"]
    assert len(set(SYMBOLS.values())) == 4  # four distinct shapes, not only four colours
    assert [p.size for p in points] == [10, 14, 18, 22]


def test_placement_is_deterministic_and_most_likely_first():
    signals = [_signal(1, "data", "long", likelihood=1), _signal(2, "data", "long", likelihood=4)]
    first, second = radar_points(signals), radar_points(list(reversed(signals)))
    assert [(p.signal.pk, p.x, p.y) for p in first] == [(p.signal.pk, p.x, p.y) for p in second]
    by_pk = {p.signal.pk: p for p in first}
    assert by_pk[2].radius < by_pk[1].radius  # lane 1 goes to the most likely


def test_the_table_is_the_radar_cell_by_cell():
    signals = [_signal(1, "ai", "short"), _signal(2, "ai", "long"), _signal(3, "data", "medium")]
    table = dict(radar_table(radar_points(signals)))
    assert list(table) == list(DOMAINS)
    assert [[s.pk for s in cell] for cell in table["ai"]] == [[1], [], [2]]
    assert [[s.pk for s in cell] for cell in table["data"]] == [[], [3], []]
    assert all(cell == [] for cell in table["genomics"])


@pytest.mark.django_db
def test_page_figure_and_api_agree(client, personas):
    a = make_signal(by=personas.manager, title="Alpha <b>", domain="devices", horizon="long", likelihood=4,
                    impact_costs=3)
    b = make_signal(by=personas.manager, title="Beta", domain="devices", horizon="long", likelihood=1)
    make_signal(by=personas.manager, title="Archived", domain="ai", horizon="short", likelihood=2, status="archived")
    client.force_login(personas.decider)
    response = client.get(reverse("horizon:signal-radar"))
    assert response.status_code == 200
    figure = response.context["figure"]
    traces = {t["name"]: t for t in figure["data"]}
    assert set(traces) == {"Probabilité : Très élevée", "Probabilité : Faible"}
    star = traces["Probabilité : Très élevée"]
    assert star["marker"]["symbol"] == "star" and star["marker"]["size"] == [22]
    assert star["customdata"] == [reverse("horizon:signal-detail", args=[a.pk])]
    assert "Alpha &lt;b&gt;" in star["hovertext"][0]  # titles are escaped in the chart's HTML hover text
    assert len([s for s in figure["layout"]["shapes"] if s["type"] == "circle"]) == 3
    html = response.content.decode()
    assert 'data-testid="radar-table"' in html and "Archived" not in html
    api = client.get("/api/v1/signals/radar/").json()
    page = {p.signal.pk: (p.x, p.y, p.symbol) for p in response.context["points"]}
    assert {p["signal"]: (p["x"], p["y"], p["symbol"]) for p in api} == page
    assert set(page) == {a.pk, b.pk}
