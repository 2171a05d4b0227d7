"""Small populations built by hand or at random, for the funding tests."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from tremplin.funding.population import SETTINGS, Episodes, Population

S = {name: i for i, name in enumerate(SETTINGS)}


def population(persons: list[dict], lines: list[tuple], *, years=(2021, 2022), organisations=("A", "B", "H"),
               sectors=None, kinds=None, episodes: Episodes | None = None, low_income=None, antidiabetic=None,
               outcome="avoidable_hospitalisations") -> Population:
    """A population from readable rows.

    persons: dicts with age (in the performance year), female, team (organisation index or -1), exposure (one
    value per year, default 1.0 each), territory, diabetes, long_term_condition.
    lines: (year index, person, organisation index, setting name, amount, affected amount[, affected events,
    events]).
    """
    n = len(persons)
    perf = years[-1]
    conditions = np.zeros((n, 5), bool)
    for i, p in enumerate(persons):
        conditions[i, 0] = p.get("diabetes", False)
    exposure = np.array([p.get("exposure", [1.0] * len(years)) for p in persons], dtype=float).T
    cols = [[line[j] for line in lines] for j in range(6)]
    n_lines = len(lines)

    def col(j, default):
        return [line[j] if len(line) > j else default(line) for line in lines] if n_lines else []

    return Population.build(
        years=years, person_id=np.arange(1, n + 1), birth_year=[perf - p.get("age", 45) for p in persons],
        exposure=exposure, line_year=cols[0], line_person=cols[1], line_org=cols[2],
        line_setting=[S[s] for s in cols[3]], line_amount=cols[4], line_affected=cols[5],
        line_affected_events=col(6, lambda line: 1.0 if line[5] > 0 else 0.0), line_events=col(7, lambda line: 1),
        organisations=organisations, org_sector=sectors or ("private_for_profit",) * len(organisations),
        org_kind=kinds or ("primary_care",) * len(organisations), female=[p.get("female", False) for p in persons],
        conditions=conditions, long_term_condition=[p.get("long_term_condition", False) for p in persons],
        low_income=low_income, territory=[p.get("territory", 1) for p in persons],
        team=[p.get("team", -1) for p in persons], outcome=outcome, antidiabetic=antidiabetic, episodes=episodes,
        source="test")


@st.composite
def random_populations(draw, *, with_episodes: bool = True) -> Population:
    """Random small populations: a few persons, organisations, years, lines and episodes."""
    n = draw(st.integers(1, 12))
    k = draw(st.integers(1, 4))
    y = draw(st.integers(2, 4))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    years = tuple(range(2023 - y + 1, 2024))
    ages = rng.integers(0, 95, size=n)
    exposure = np.where(rng.random((y, n)) < 0.9, rng.uniform(0.2, 1.0, (y, n)), 0.0)
    exposure[-1] = np.maximum(exposure[-1], 0.1)  # everyone observed in the performance year
    m = draw(st.integers(1, 40))
    line_year = rng.integers(0, y, size=m)
    line_person = rng.integers(0, n, size=m)
    line_org = rng.integers(0, k, size=m)
    line_setting = rng.integers(0, len(SETTINGS), size=m)
    amount = np.round(rng.gamma(1.5, 400.0, size=m), 2)
    affected = np.where(rng.random(m) < 0.4, np.round(amount * rng.random(m), 2), 0.0)
    team = np.where(rng.random(n) < 0.8, rng.integers(0, k, size=n), -1)
    episodes = None
    if with_episodes:
        e = draw(st.integers(0, 15))
        if e:
            episodes = Episodes(
                window_days=90, person=rng.integers(0, n, size=e), organisation=rng.integers(0, k, size=e),
                period=rng.integers(0, 4, size=e), year=rng.integers(0, y, size=e),
                category=rng.integers(0, 2, size=e), categories=("I50", "J44"),
                amount=np.round(rng.gamma(2.0, 2000.0, size=e), 2), anchor_amount=np.full(e, 500.0),
                anchor_affected=rng.random(e) < 0.5, post_affected=np.round(rng.uniform(0, 400, size=e), 2),
                periods=(("2023-01-01", "2023-12-31"),) * 4)
    return Population.build(
        years=years, person_id=np.arange(1, n + 1), birth_year=years[-1] - ages, exposure=exposure,
        line_year=line_year, line_person=line_person, line_org=line_org, line_setting=line_setting,
        line_amount=amount, line_affected=affected, line_affected_events=(affected > 0).astype(float),
        line_events=rng.integers(1, 4, size=m), organisations=tuple(f"O{i}" for i in range(k)),
        org_sector=tuple(rng.choice(["public", "private_for_profit", "community"], size=k)),
        female=rng.random(n) < 0.5, conditions=rng.random((n, 5)) < 0.2, long_term_condition=rng.random(n) < 0.3,
        low_income=rng.random(n) < 0.1, territory=rng.integers(1, 3, size=n), team=team,
        antidiabetic=rng.random(n) < 0.5, episodes=episodes, source="hypothesis")
