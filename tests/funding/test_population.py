"""Reading a care dataset into a population: tariffs, affected events, teams, exposure, episodes."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow.parquet as pq
import pytest

from tremplin.engine.codelists import is_avoidable
from tremplin.funding import FundingInputError, load_population
from tremplin.funding.population import SETTINGS


def test_tariffs_keep_the_recorded_totals(region):
    pop = load_population(region)
    events = pq.read_table(region / "care_events.parquet", columns=["event_date", "cost_eur"]).to_pandas()
    years = events.event_date.map(lambda d: d.year)
    for i, year in enumerate(pop.years):
        recorded = events.cost_eur[years == year].sum()
        assert pop.line_amount[pop.line_year == i].sum() == pytest.approx(recorded, rel=1e-9)


def test_loading_twice_gives_the_same_population_bit_for_bit(region):
    # same lines in the same order with the same floating-point sums: a seeded Monte Carlo repeats exactly
    a, b = load_population(region), load_population(region)
    for name in ("line_year", "line_person", "line_org", "line_setting", "line_amount", "line_affected",
                 "line_events", "team", "exposure"):
        assert getattr(a, name).tobytes() == getattr(b, name).tobytes(), name
    assert a.episodes.amount.tobytes() == b.episodes.amount.tobytes()
    assert a.organisations == b.organisations


def test_affected_events_are_the_outcome_s_events(region):
    pop = load_population(region)
    events = pq.read_table(region / "care_events.parquet").to_pandas()
    persons = pq.read_table(region / "persons.parquet").to_pandas().set_index("person_id")
    events = events[(events.setting == "inpatient") & (events.event_date.map(lambda d: d.year) == pop.performance_year)]
    ages = pop.performance_year - persons.loc[events.person_id, "birth_year"].to_numpy()
    expected = sum(is_avoidable(c, a) for c, a in zip(events.icd10, ages, strict=True))
    assert expected > 0 and pop.affected_events() == expected
    assert (pop.line_affected <= pop.line_amount + 1e-9).all()
    everything = load_population(region, outcome="cost_per_capita")
    np.testing.assert_allclose(everything.line_affected, everything.line_amount)


def test_organisations_sectors_and_declared_teams(region):
    pop = load_population(region)
    providers = pq.read_table(region / "providers.parquet").to_pandas().set_index("provider_id")
    status = pq.read_table(region / "person_status.parquet").to_pandas().set_index("person_id")
    assert set(pop.organisations) == set(providers.organisation_id)
    org_sector = dict(zip(providers.organisation_id, providers.sector, strict=True))
    assert all(org_sector[o] == s for o, s in zip(pop.organisations, pop.org_sector, strict=True))
    declared = status.gp_provider_id.loc[pop.person_id]
    expected = [providers.organisation_id[g] if isinstance(g, str) else None for g in declared]
    got = [pop.organisations[t] if t >= 0 else None for t in pop.team]
    assert got == expected
    assert pop.long_term_condition.tolist() == status.long_term_condition.loc[pop.person_id].tolist()
    assert pop.notes == ()


def test_exposure_follows_the_observation_periods(region):
    pop = load_population(region)
    obs = pq.read_table(region / "observation_periods.parquet").to_pandas()
    full = obs[(obs.start <= dt.date(pop.years[0], 1, 1)) & (obs.end >= dt.date(pop.performance_year, 12, 31))]
    idx = np.searchsorted(pop.person_id, full.person_id.to_numpy())
    np.testing.assert_allclose(pop.exposure[:, idx], 1.0)
    assert ((pop.exposure >= 0) & (pop.exposure <= 1)).all()


def test_territory_subset_and_bad_options(region):
    pop = load_population(region)
    one = load_population(region, territories=[1])
    assert (one.territory == 1).all() and one.n_persons == (pop.territory == 1).sum()
    with pytest.raises(FundingInputError, match="allowed values: avoidable_hospitalisations"):
        load_population(region, outcome="redundant_acts")
    with pytest.raises(FundingInputError, match="outside the data"):
        load_population(region, performance_year=1990)


def _write(path, header, rows):
    path.write_text("\n".join([header, *[",".join(map(str, r)) for r in rows]]) + "\n", encoding="utf-8")


@pytest.fixture
def hand_dataset(tmp_path):
    """Three persons followed through 2022-2023, CSV, no optional tables."""
    d = tmp_path / "hand"
    d.mkdir()
    _write(d / "territories.csv", "territory_id,code,name,level,parent_id,population", [(1, "T1", "T", "territory", "", 3)])
    _write(d / "persons.csv", "person_id,birth_year,sex,territory_id,diabetes,heart_failure,copd,asthma,hypertension",
           [(1, 1950, "F", 1, "false", "true", "false", "false", "false"),
            (2, 1980, "M", 1, "false", "false", "false", "false", "false"),
            (3, 2000, "M", 1, "false", "false", "false", "false", "false")])
    _write(d / "observation_periods.csv", "person_id,start,end",
           [(p, "2022-01-01", "2023-12-31") for p in (1, 2, 3)])
    header = "event_id,person_id,event_date,setting,icd10,act_code,provider_id,length_of_stay_days,cost_eur"
    _write(d / "care_events.csv", header, [
        (1, 1, "2023-03-01", "inpatient", "I500", "", "HOSP", 5, 3000),    # anchor, avoidable (heart failure)
        (2, 1, "2023-04-01", "outpatient", "", "G", "GP1", 0, 30),         # in the window (ends 2023-06-04)
        (3, 1, "2023-05-01", "inpatient", "J189", "", "HOSP", 3, 2000),    # readmission inside the episode
        (4, 1, "2023-08-01", "outpatient", "", "G", "GP1", 0, 30),         # after the window
        (5, 2, "2023-02-01", "outpatient", "", "G", "GP2", 0, ""),         # no cost: the type's tariff (30)
        (6, 2, "2023-03-01", "outpatient", "", "G", "GP1", 0, 30),
        (7, 2, "2023-06-01", "outpatient", "", "G", "GP2", 0, 30),
        (8, 3, "2022-06-01", "inpatient", "I500", "", "HOSP", 2, 1000),    # age 22: avoidable, baseline period
        (9, 3, "2023-10-20", "inpatient", "S720", "", "HOSP", 4, 4000),    # window ends 2024: not complete
    ])
    return d


def test_hand_dataset_lines_episodes_and_fallbacks(hand_dataset):
    pop = load_population(hand_dataset)
    assert pop.years == (2022, 2023) and pop.performance_year == 2023
    assert pop.organisations == ("GP1", "GP2", "HOSP")
    assert set(pop.org_sector) == {"unknown"} and pop.org_kind == ("primary_care", "primary_care", "hospital")
    assert any("no providers table" in n for n in pop.notes)
    # tariffs: outpatient G costs 30 in 2023, so the uncosted visit is valued 30
    assert pop.spending(-1).tolist() == [3000 + 30 + 2000 + 30, 90, 4000]
    assert pop.affected().tolist() == [3000, 0, 0] and pop.affected_events() == 1
    # teams by most visits: person 2 saw GP2 twice and GP1 once
    assert [pop.organisations[t] if t >= 0 else None for t in pop.team] == ["GP1", "GP2", None]
    # long-term condition approximated by diabetes or heart failure without person_status
    assert pop.long_term_condition.tolist() == [True, False, False]
    ep = pop.episodes
    perf = ep.period == 0
    assert perf.sum() == 1  # the October 2023 stay's window runs past the data: not in the performance period
    i = np.flatnonzero(perf)[0]
    assert ep.amount[i] == 5030 and ep.anchor_amount[i] == 3000 and ep.anchor_affected[i]
    assert ep.post_affected[i] == 0 and ep.categories[ep.category[i]] == "I50"
    base = np.flatnonzero(ep.period == 1)
    assert len(base) == 1 and ep.amount[base[0]] == 1000 and ep.anchor_affected[base[0]]
    assert ep.periods[0] == ("2023-01-01", "2023-12-31")


def test_settings_order_is_the_engine_s():
    assert SETTINGS == ("outpatient", "inpatient", "emergency", "home", "pharmacy")


def test_population_is_not_modified_by_the_models(region):
    from tremplin.funding import MODEL_NAMES, Scenario, build_model, montecarlo, simulate
    from tremplin.funding.effect import Effect

    pop = load_population(region)
    before = {name: getattr(pop, name).copy() for name in ("line_amount", "line_affected", "exposure", "team")}
    for name in MODEL_NAMES:
        s = Scenario(pop, build_model(name))
        simulate(s, -0.1)
        montecarlo(s, Effect(-0.1, se=0.05), draws=100, seed=1)
    for name, value in before.items():
        assert np.array_equal(getattr(pop, name), value), name
