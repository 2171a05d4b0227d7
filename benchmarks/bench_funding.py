"""Funding Monte Carlo benchmark: exact piecewise-linear evaluation against the plain N x D NumPy evaluation.

    python benchmarks/bench_funding.py                   # 1,000,000 patients, 100,000 draws
    BENCH_PERSONS=200000 BENCH_DRAWS=20000 ...           # smaller
    BENCH_BRUTE_DRAWS=N ...                              # draws evaluated by brute force (default 100)

The population is synthetic (built from arrays, `Population.build`): 1 M patients over two years (reference and
performance year), registered with ~700 primary-care teams, cared for by teams, nurses, pharmacies and hospitals,
with episodes of care after every hospital stay. For each model (the per-patient variants, where every patient
contributes its own floors and caps):

* fast path: `tremplin.funding.montecarlo` — plan the model, compile its pieces (sorted knots, prefix sums),
  evaluate every draw by bisection (`np.searchsorted`), P(some provider loses) from the exact loss intervals;
* plain path: `plan.payments(E)` — the model's formulas on every patient (N) at every draw (D), vectorised with
  NumPy, in blocks of draws. At 1 M x 100,000 that is 10^11 patient-draws (hours), so it is timed on the first
  `BENCH_BRUTE_DRAWS` draws and its per-draw time extrapolated linearly to every draw (it is linear in D: the
  same work for each block); the ratio printed is extrapolated plain time / measured fast time.

Exactness: on those first draws, the fast net savings must equal the brute-force ones (up to floating-point
rounding, 1e-9 of the baseline payer cost) and P(some provider loses) must agree draw by draw, else the benchmark
fails. Every timing is the best of `BENCH_REPEATS` (default 1) rounds in this process.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time

import numpy as np

from tremplin.funding import Effect, Scenario, build_model, montecarlo
from tremplin.funding.analysis import LOSS_TOLERANCE
from tremplin.funding.population import SETTINGS, Episodes, Population

PERSONS = int(os.environ.get("BENCH_PERSONS", "1000000"))
DRAWS = int(os.environ.get("BENCH_DRAWS", "100000"))
BRUTE_DRAWS = int(os.environ.get("BENCH_BRUTE_DRAWS", "100"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "1"))
BLOCK_CELLS = 20_000_000  # patient x draw cells per block of the plain evaluation (memory bound)
EFFECT = Effect(-0.12, se=0.05)
PROGRAMME_COST_SHARE = 0.002  # of the status quo's payer cost
CASES = [
    ("ipep", {"level": "patient"}),
    ("personal_budget", {"pooling": "patient", "eligibility": "all"}),
    ("mssp", {"track": "two_sided"}),
    ("bundle", {}),
    ("capitation", {}),
]
S = {name: i for i, name in enumerate(SETTINGS)}
PLAIN_UNITS = {
    "ipep": lambda pop: int((pop.observed & (pop.team >= 0)).sum()),
    "personal_budget": lambda pop: int(pop.observed.sum()),
    "mssp": lambda pop: pop.n_organisations,
    "bundle": lambda pop: pop.n_organisations,
    "capitation": lambda pop: pop.n_organisations,
}


def synthetic_population(n: int, seed: int = 1) -> Population:
    """`n` patients, two years, ~6 lines per patient-year and an episode after every hospital stay."""
    rng = np.random.default_rng(seed)
    years = (2022, 2023)
    teams = max(1, n // 1_400)
    nurses, pharmacies, hospitals = max(1, n // 5_000), max(1, n // 3_000), max(1, n // 20_000)
    orgs = ([f"team-{i}" for i in range(teams)] + [f"nurse-{i}" for i in range(nurses)]
            + [f"pharmacy-{i}" for i in range(pharmacies)] + [f"hospital-{i}" for i in range(hospitals)])
    sectors = (["private_for_profit"] * teams + ["private_for_profit"] * nurses + ["private_for_profit"] * pharmacies
               + list(rng.choice(["public", "private_non_profit"], size=hospitals)))
    kinds = ["primary_care"] * teams + ["home_care"] * nurses + ["pharmacy"] * pharmacies + ["hospital"] * hospitals
    first_nurse, first_pharmacy, first_hospital = teams, teams + nurses, teams + nurses + pharmacies
    age = np.clip(rng.gamma(4.0, 11.0, size=n), 0, 99).astype(np.int64)
    conditions = rng.random((n, 5)) < np.clip(age[:, None] / 400, 0.01, 0.3)
    ltc = conditions[:, 0] | conditions[:, 1] | (rng.random(n) < 0.05)
    team = np.where(rng.random(n) < 0.9, rng.integers(0, teams, size=n), -1)
    exposure = np.where(rng.random((2, n)) < 0.95, 1.0, rng.uniform(0.1, 1.0, (2, n)))
    frailty = rng.gamma(2.0, 0.5, size=n) * (1 + conditions.sum(axis=1))
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("year", "person", "org", "setting", "amount", "affected",
                                                         "affected_events", "events")}

    def add(year, person, org, setting, amount, affected=None, affected_events=None, events=None):
        m = len(person)
        cols["year"].append(np.full(m, year))
        cols["person"].append(person)
        cols["org"].append(org)
        cols["setting"].append(np.full(m, S[setting]))
        cols["amount"].append(amount)
        cols["affected"].append(np.zeros(m) if affected is None else affected)
        cols["affected_events"].append(np.zeros(m) if affected_events is None else affected_events)
        cols["events"].append(np.ones(m, np.int64) if events is None else events)

    ep_cols: dict[str, list[np.ndarray]] = {k: [] for k in ("person", "org", "period", "year", "category", "amount",
                                                            "anchor", "hit", "post")}
    for y in range(2):
        everyone = np.arange(n)
        visits = rng.poisson(2 + 2 * frailty)
        seen = visits > 0
        own = np.where(team >= 0, team, rng.integers(0, teams, size=n))
        add(y, everyone[seen], own[seen], "outpatient", visits[seen] * 26.5, events=visits[seen])
        other = rng.random(n) < 0.25
        add(y, everyone[other], rng.integers(0, teams, size=other.sum()), "outpatient",
            rng.poisson(1.5, other.sum()) * 26.5 + 26.5)
        nurse = rng.random(n) < 0.12 * frailty
        add(y, everyone[nurse], first_nurse + rng.integers(0, nurses, nurse.sum()), "home",
            rng.gamma(2.0, 300.0, nurse.sum()))
        drugs = rng.random(n) < 0.7
        add(y, everyone[drugs], first_pharmacy + rng.integers(0, pharmacies, drugs.sum()), "pharmacy",
            rng.gamma(1.5, 150.0 * frailty[drugs]))
        er = rng.random(n) < 0.08 * frailty
        n_er = rng.poisson(1.0, er.sum()) + 1
        add(y, everyone[er], first_hospital + rng.integers(0, hospitals, er.sum()), "emergency", n_er * 160.0,
            events=n_er)
        stay = rng.random(n) < 0.05 * frailty
        n_stay = stay.sum()
        hospital = first_hospital + rng.integers(0, hospitals, n_stay)
        amount = rng.gamma(2.0, 2_200.0, n_stay)
        avoidable = rng.random(n_stay) < 0.3
        add(y, everyone[stay], hospital, "inpatient", amount, np.where(avoidable, amount, 0.0),
            avoidable.astype(float))
        ep_cols["person"].append(everyone[stay])
        ep_cols["org"].append(hospital)
        ep_cols["period"].append(np.full(n_stay, 1 - y))
        ep_cols["year"].append(np.full(n_stay, y))
        ep_cols["category"].append(rng.integers(0, 20, n_stay))
        post = rng.gamma(1.5, 600.0, n_stay)
        ep_cols["amount"].append(amount + post)
        ep_cols["anchor"].append(amount)
        ep_cols["hit"].append(avoidable)
        ep_cols["post"].append(post * (rng.random(n_stay) < 0.2))
    c = {k: np.concatenate(v) for k, v in cols.items()}
    e = {k: np.concatenate(v) for k, v in ep_cols.items()}
    episodes = Episodes(window_days=90, person=e["person"], organisation=e["org"], period=e["period"], year=e["year"],
                        category=e["category"], categories=tuple(f"I{i:02d}" for i in range(20)), amount=e["amount"],
                        anchor_amount=e["anchor"], anchor_affected=e["hit"], post_affected=e["post"],
                        periods=(("2023-01-01", "2023-12-31"), ("2022-01-01", "2022-12-31"),
                                 ("2021-01-01", "2021-12-31"), ("2020-01-01", "2020-12-31")))
    return Population.build(
        years=years, person_id=np.arange(1, n + 1), birth_year=years[-1] - age, exposure=exposure,
        line_year=c["year"], line_person=c["person"], line_org=c["org"], line_setting=c["setting"],
        line_amount=c["amount"], line_affected=c["affected"], line_affected_events=c["affected_events"],
        line_events=c["events"], organisations=orgs, org_sector=sectors, org_kind=kinds,
        female=rng.random(n) < 0.52, conditions=conditions, long_term_condition=ltc, low_income=rng.random(n) < 0.08,
        territory=rng.integers(1, 1_000, size=n), team=team, antidiabetic=conditions[:, 0] & (rng.random(n) < 0.8),
        episodes=episodes, source="synthetic")


def best(fn, repeats: int = REPEATS):
    times, value = [], None
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return min(times), value


def plain(scenario: Scenario, effects: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every patient at every draw: the model's formulas (N x D), in blocks of draws; net savings and losses."""
    net, loses = np.empty(len(effects)), np.empty(len(effects), bool)
    block = max(1, BLOCK_CELLS // max(scenario.population.n_persons, 1))
    for start in range(0, len(effects), block):
        e = effects[start:start + block]
        pay = scenario.payments(e)
        net[start:start + block] = scenario.baseline_cost - pay.sum(axis=0) - scenario.programme_cost
        loses[start:start + block] = ((pay - scenario.ffs0[:, None]) < -LOSS_TOLERANCE).any(axis=0)
    return net, loses


def main() -> int:
    print(f"Funding Monte Carlo: {PERSONS:,} patients, {DRAWS:,} draws of the effect {EFFECT.estimate:+.2f} "
          f"(se {EFFECT.se}); plain N x D timed on {BRUTE_DRAWS} draws and extrapolated", flush=True)
    start = time.perf_counter()
    pop = synthetic_population(PERSONS)
    print(f"population built in {time.perf_counter() - start:.1f} s: {pop.n_persons:,} patients, "
          f"{len(pop.line_person):,} lines, {pop.n_organisations:,} organisations, {len(pop.episodes):,} episodes",
          flush=True)
    header = (f"{'model':<48} {'N plain':>9} {'pieces':>9} {'plan (s)':>8} {'MC (s)':>7} {'plain/draw':>11} "
              f"{'plain MC':>9} {'ratio':>7}  exact")
    print(header)
    print("-" * len(header))
    failures = []
    for name, params in CASES:
        model = build_model(name, params)
        label = name + "".join(f" {k}={v}" for k, v in params.items())
        cost = PROGRAMME_COST_SHARE * Scenario(pop, build_model("ffs")).baseline_cost

        def planned(model=model, cost=cost):
            scenario = Scenario(pop, model, programme_cost=cost)
            scenario.plan  # noqa: B018 -- the model applied to the population (both paths need it)
            return scenario

        t_plan, scenario = best(planned)
        # a fresh scenario on the same plan each round: its pieces built and compiled anew
        t_fast, result = best(lambda scenario=scenario, model=model, cost=cost: montecarlo(
            Scenario(pop, model, programme_cost=cost, _plan=dataclasses.replace(scenario.plan, _cached_terms=None)),
            EFFECT, draws=DRAWS, seed=1))
        effects = result.effects[:BRUTE_DRAWS]
        t_plain, (net, loses) = best(lambda scenario=scenario, effects=effects: plain(scenario, effects))
        per_draw = t_plain / len(effects)
        extrapolated = per_draw * DRAWS
        gap = float(np.abs(result.net_savings[:BRUTE_DRAWS] - net).max())
        same_losses = bool((result.provider_loses[:BRUTE_DRAWS] == loses).all())
        exact = gap <= 1e-9 * scenario.baseline_cost and same_losses
        if not exact:
            failures.append(label)
        n_plain = PLAIN_UNITS[name](pop)
        print(f"{label:<48} {n_plain:>9,} {scenario.plan.terms().size:>9,} {t_plan:>8.2f} {t_fast:>7.2f} "
              f"{1000 * per_draw:>8.1f} ms {extrapolated:>8.0f}s {extrapolated / t_fast:>6.0f}x  "
              f"{'yes' if exact else 'NO'} (max gap {gap:.1e} EUR of {scenario.baseline_cost:.2e}, "
              f"losses {'equal' if same_losses else 'DIFFER'})", flush=True)
    print(f"\nplan: the model applied to the population (shared by both paths). MC: tremplin.funding.montecarlo with "
          f"{DRAWS:,} draws (compile, bisection, loss intervals, quantiles), measured. plain MC: the plain N x D "
          f"evaluation per draw (measured on {BRUTE_DRAWS} draws) x {DRAWS:,}. ratio = plain MC / MC. N plain: the "
          "rows the model's formulas evaluate at every draw (patients, or organisations for the models that "
          "aggregate before their floors and caps).")
    if failures:
        print("NOT EXACT: " + ", ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
