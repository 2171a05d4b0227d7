"""A care dataset reduced to what the payment models need: persons, yearly exposure, and the year's care as
"lines" (one per year × person × organisation × setting) valued at tariffs, plus episodes of care for bundles.

`load_population(data_dir, outcome=...)` reads a dataset in the engine's schema (`docs/data.md`) with DuckDB, in
place; `Population.build(...)` makes one from arrays (tests, benchmarks, other sources). A population is never
modified: models and analyses only read it.

Tariffs ("volumes × tariffs by act or stay type"): every event is valued at the mean `cost_eur` of its type in its
calendar year, the type being (setting, act code) for acts and (setting, first three ICD-10 characters) for stays
(a diagnosis-related tariff). Events without a cost get their type's tariff; per type and year the tariffed total
equals the recorded total when no cost is missing.

The evaluated effect is a relative change `E` of an outcome of the engine's catalogue. The events that outcome
counts are the *affected* events: under the effect their expected number, hence their amount, is multiplied by
`1 + E` (in the performance year only). Each line carries its amount and the part of it that is affected.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from tremplin.engine import schemas
from tremplin.engine.loaders import open_tables, parquet_dataset
from tremplin.engine.outcomes import CATALOGUE
from tremplin.funding.errors import FundingInputError

Progress = Callable[[float, str], None]

SETTINGS = schemas.SETTINGS
CONDITIONS = schemas.CHRONIC_FLAGS
EFFECT_OUTCOMES: tuple[str, ...] = (
    "avoidable_hospitalisations",
    "hospitalisation_rate",
    "emergency_visit_rate",
    "outpatient_visits_per_capita",
    "cost_per_capita",
)
"""Outcomes whose effect the models can apply: those of the catalogue counted event by event (a relative change of
`cost_per_capita` scales every event)."""
DEFAULT_OUTCOME = "avoidable_hospitalisations"
"""The outcome an effect changes by default: potentially avoidable hospitalisations, the CLI contract of issue 14
(and the outcome of the "one hospitalisation a day" question)."""
DEFAULT_EPISODE_WINDOW = 90
"""Days after discharge in an episode of care: BPCI Advanced clinical episodes run 90 days after the anchor stay
(CMS, BPCI Advanced Target Price Specifications); the French EDS episodes also follow the patient after discharge."""
UNKNOWN = "unknown"


def _noop(fraction: float, message: str) -> None:
    return None


@dataclass(frozen=True, eq=False)
class Episodes:
    """Episodes of care: an anchor stay and every event of the person until `window_days` after its discharge.

    A stay admitted during an open episode belongs to it. `period` 0 is the performance period (the 365 days of
    anchors ending when the last complete window ends), 1, 2, 3 the baseline periods before it.
    """

    window_days: int
    person: np.ndarray  # index into the population's persons
    organisation: np.ndarray  # organisation of the anchor stay (the episode initiator)
    period: np.ndarray
    year: np.ndarray  # index into population.years of the anchor admission
    category: np.ndarray  # index into categories
    categories: tuple[str, ...]
    amount: np.ndarray  # every event of the episode, anchor included, at tariffs
    anchor_amount: np.ndarray
    anchor_affected: np.ndarray  # the anchor stay is an affected event
    post_affected: np.ndarray  # amount of affected events after the anchor (inside the window)
    periods: tuple[tuple[str, str], ...]  # (first, last) day on which the windows of each period end, ISO

    def __len__(self) -> int:
        return len(self.person)


@dataclass(frozen=True, eq=False)
class Population:
    """Persons, their yearly exposure and the care they received, by year, organisation and setting.

    `years[-1]` is the performance year. Lines are indexed by `line_year` (into `years`), `line_person` (into the
    persons), `line_org` (into `organisations`) and `line_setting` (into `SETTINGS`).
    """

    outcome: str
    years: tuple[int, ...]
    person_id: np.ndarray
    birth_year: np.ndarray
    female: np.ndarray
    conditions: np.ndarray  # (N, len(CONDITIONS)) booleans
    long_term_condition: np.ndarray
    low_income: np.ndarray | None
    territory: np.ndarray
    team: np.ndarray  # registered primary-care organisation (index) or -1
    exposure: np.ndarray  # (Y, N): share of each year observed
    line_year: np.ndarray
    line_person: np.ndarray
    line_org: np.ndarray
    line_setting: np.ndarray
    line_amount: np.ndarray
    line_affected: np.ndarray
    line_affected_events: np.ndarray
    line_events: np.ndarray
    organisations: tuple[str, ...]
    org_sector: tuple[str, ...]
    org_kind: tuple[str, ...]
    org_name: tuple[str, ...] = ()
    antidiabetic: np.ndarray | None = None  # persons with an antidiabetic (ATC A10) dispensing in the performance year
    episodes: Episodes | None = None
    notes: tuple[str, ...] = ()
    source: str = ""
    _cache: dict = field(default_factory=dict, repr=False)

    # -- construction -----------------------------------------------------------------------------------------
    @classmethod
    def build(cls, *, years, person_id, birth_year, exposure, line_year, line_person, line_org, line_setting,
              line_amount, line_affected=None, line_affected_events=None, line_events=None, organisations,
              org_sector=None, org_kind=None, female=None, conditions=None, long_term_condition=None,
              low_income=None, territory=None, team=None, outcome=DEFAULT_OUTCOME, antidiabetic=None,
              episodes=None, notes=(), source="arrays", org_name=None) -> Population:
        """A population from arrays (shapes are checked; optional arrays get neutral defaults)."""
        years = tuple(int(y) for y in years)
        n = len(person_id)
        n_lines = len(line_person)
        k = len(organisations)
        exposure = np.asarray(exposure, dtype=float).reshape(len(years), n)

        def arr(x, default, dtype):
            a = np.asarray(default if x is None else x, dtype=dtype)
            return a

        pop = cls(
            outcome=outcome, years=years, person_id=np.asarray(person_id, np.int64),
            birth_year=np.asarray(birth_year, np.int64), female=arr(female, np.zeros(n), bool),
            conditions=arr(conditions, np.zeros((n, len(CONDITIONS))), bool).reshape(n, len(CONDITIONS)),
            long_term_condition=arr(long_term_condition, np.zeros(n), bool),
            low_income=None if low_income is None else np.asarray(low_income, bool),
            territory=arr(territory, np.zeros(n), np.int64), team=arr(team, np.full(n, -1), np.int64),
            exposure=exposure, line_year=np.asarray(line_year, np.int64), line_person=np.asarray(line_person, np.int64),
            line_org=np.asarray(line_org, np.int64), line_setting=np.asarray(line_setting, np.int64),
            line_amount=np.asarray(line_amount, float),
            line_affected=arr(line_affected, np.zeros(n_lines), float),
            line_affected_events=arr(line_affected_events, np.zeros(n_lines), float),
            line_events=arr(line_events, np.ones(n_lines), np.int64),
            organisations=tuple(organisations),
            org_sector=tuple(org_sector) if org_sector is not None else (UNKNOWN,) * k,
            org_kind=tuple(org_kind) if org_kind is not None else ("other",) * k,
            org_name=tuple(org_name) if org_name is not None else tuple(organisations),
            antidiabetic=None if antidiabetic is None else np.asarray(antidiabetic, bool),
            episodes=episodes, notes=tuple(notes), source=source,
        )
        pop.check()
        return pop

    def check(self) -> None:
        """Raise `FundingInputError` when arrays are inconsistent."""
        n, k, y = len(self.person_id), len(self.organisations), len(self.years)
        problems = []
        for name in ("birth_year", "female", "long_term_condition", "territory", "team"):
            if len(getattr(self, name)) != n:
                problems.append(f"{name} has {len(getattr(self, name))} values for {n} persons")
        if self.exposure.shape != (y, n):
            problems.append(f"exposure has shape {self.exposure.shape}, expected {(y, n)}")
        m = len(self.line_person)
        for name in ("line_year", "line_org", "line_setting", "line_amount", "line_affected", "line_affected_events",
                     "line_events"):
            if len(getattr(self, name)) != m:
                problems.append(f"{name} has {len(getattr(self, name))} values for {m} lines")
        if m and (self.line_person.min() < 0 or self.line_person.max() >= n):
            problems.append("line_person out of range")
        if m and (self.line_org.min() < 0 or self.line_org.max() >= k):
            problems.append("line_org out of range")
        if m and (self.line_year.min() < 0 or self.line_year.max() >= y):
            problems.append("line_year out of range")
        if len(self.org_sector) != k or len(self.org_kind) != k:
            problems.append("org_sector/org_kind must have one value per organisation")
        if (self.team >= k).any():
            problems.append("team out of range")
        if np.any(self.line_amount < 0) or np.any(self.line_affected < 0) or np.any(self.line_affected > self.line_amount + 1e-9):
            problems.append("line amounts must be >= 0 and the affected part at most the amount")
        if problems:
            raise FundingInputError("Inconsistent population: " + "; ".join(problems) + ".")

    # -- derived quantities (computed once) -----------------------------------------------------------------
    def _cached(self, key, compute):
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    @property
    def n_persons(self) -> int:
        return len(self.person_id)

    @property
    def n_organisations(self) -> int:
        return len(self.organisations)

    @property
    def performance_year(self) -> int:
        return self.years[-1]

    @property
    def observed(self) -> np.ndarray:
        """Persons observed during the performance year."""
        return self.exposure[-1] > 0

    def age(self, year_index: int = -1) -> np.ndarray:
        return self.years[year_index] - self.birth_year

    def spending(self, year_index: int = -1) -> np.ndarray:
        """Amount per person in a year, at tariffs (no effect)."""
        y = year_index % len(self.years)
        return self._cached(("spending", y), lambda: np.bincount(
            self.line_person[self.line_year == y], self.line_amount[self.line_year == y], minlength=self.n_persons))

    def affected(self) -> np.ndarray:
        """Affected amount per person in the performance year."""
        return self._cached("affected", lambda: np.bincount(
            self.line_person[self.perf_lines], self.line_affected[self.perf_lines], minlength=self.n_persons))

    @property
    def perf_lines(self) -> np.ndarray:
        """Mask of the performance year's lines."""
        return self._cached("perf_lines", lambda: self.line_year == len(self.years) - 1)

    def national_rate(self, year_index: int = -1) -> float:
        """Mean yearly amount per person-year observed over the whole population (no effect)."""
        y = year_index % len(self.years)
        years_obs = self.exposure[y].sum()
        return float(self.spending(y).sum() / years_obs) if years_obs > 0 else float("nan")

    def affected_events(self) -> float:
        """Number of affected events in the performance year (the outcome's events)."""
        return float(self.line_affected_events[self.perf_lines].sum())

    def sector_index(self) -> tuple[tuple[str, ...], np.ndarray]:
        """The sectors present and each organisation's sector index."""
        sectors = tuple(sorted(set(self.org_sector)))
        lookup = {s: i for i, s in enumerate(sectors)}
        return sectors, np.array([lookup[s] for s in self.org_sector], dtype=np.int64)

    def subset(self, persons: np.ndarray) -> Population:
        """The population restricted to the persons of a boolean mask (their lines and episodes), organisations kept."""
        persons = np.asarray(persons, bool)
        new_index = np.cumsum(persons) - 1
        keep = persons[self.line_person]
        episodes = self.episodes
        if episodes is not None:
            ek = persons[episodes.person]
            episodes = Episodes(
                window_days=episodes.window_days, person=new_index[episodes.person[ek]],
                organisation=episodes.organisation[ek], period=episodes.period[ek], year=episodes.year[ek],
                category=episodes.category[ek], categories=episodes.categories, amount=episodes.amount[ek],
                anchor_amount=episodes.anchor_amount[ek], anchor_affected=episodes.anchor_affected[ek],
                post_affected=episodes.post_affected[ek], periods=episodes.periods)
        return Population.build(
            years=self.years, person_id=self.person_id[persons], birth_year=self.birth_year[persons],
            exposure=self.exposure[:, persons], line_year=self.line_year[keep],
            line_person=new_index[self.line_person[keep]], line_org=self.line_org[keep],
            line_setting=self.line_setting[keep], line_amount=self.line_amount[keep],
            line_affected=self.line_affected[keep], line_affected_events=self.line_affected_events[keep],
            line_events=self.line_events[keep], organisations=self.organisations, org_sector=self.org_sector,
            org_kind=self.org_kind, org_name=self.org_name, female=self.female[persons],
            conditions=self.conditions[persons], long_term_condition=self.long_term_condition[persons],
            low_income=None if self.low_income is None else self.low_income[persons],
            territory=self.territory[persons], team=self.team[persons], outcome=self.outcome,
            antidiabetic=None if self.antidiabetic is None else self.antidiabetic[persons], episodes=episodes,
            notes=self.notes, source=self.source)

    def summary(self) -> dict:
        """`population` block of the JSON output."""
        return {
            "persons": int(self.observed.sum()),
            "years": len(self.years),
            "performance_year": self.performance_year,
            "calendar_years": list(self.years),
            "person_years": float(self.exposure[-1].sum()),
            "organisations": self.n_organisations,
            "outcome": self.outcome,
            "affected_events_per_year": self.affected_events(),
            "registered_persons": int((self.observed & (self.team >= 0)).sum()),
            "episodes": 0 if self.episodes is None else int((self.episodes.period == 0).sum()),
            "source": self.source,
            "notes": list(self.notes),
        }


# ---------------------------------------------------------------------------------------------------------------
# Loading a dataset


def _iso(day: int) -> str:
    return (dt.date(1970, 1, 1) + dt.timedelta(days=int(day))).isoformat()


def load_population(data_dir: str | Path, *, outcome: str = DEFAULT_OUTCOME, performance_year: int | None = None,
                    territories: list[int] | tuple[int, ...] | None = None,
                    episode_window_days: int = DEFAULT_EPISODE_WINDOW, format: str = "auto",
                    progress: Progress | None = None) -> Population:
    """Read a care dataset (our schema as Parquet or CSV, or OMOP) into a `Population`.

    `performance_year`: default the last complete calendar year of the data (observation up to 31 December);
    the years before it are its history. `territories`: keep only the persons living there. The optional
    `providers` and `person_status` tables (`docs/data.md`) give organisations, sectors and cover; without them
    each provider is its own organisation of sector "unknown", no one has low-income cover, and the long-term
    condition flag is approximated by diabetes or heart failure.
    """
    if outcome not in EFFECT_OUTCOMES:
        raise FundingInputError(f"invalid outcome {outcome!r}; allowed values: {', '.join(EFFECT_OUTCOMES)}.")
    if not 1 <= int(episode_window_days) <= 365:
        raise FundingInputError(f"episode_window_days must be between 1 and 365 (got {episode_window_days}).")
    progress = progress or _noop
    data_dir = Path(data_dir)
    notes: list[str] = []
    with parquet_dataset(data_dir, format=format) as pq_dir:
        # one thread: DuckDB then sums every group in scan order, so the floating-point totals (and the order of
        # the lines, sorted below) are the same from run to run, and so are the Monte Carlo results of a seed
        con = ibis.duckdb.connect(threads=1)
        try:
            t = open_tables(con, pq_dir)
            progress(0.05, "Reading persons")
            persons = t["persons"].order_by("person_id").to_pyarrow()
            obs = t["observation_periods"]
            obs = obs.select(person_id=obs.person_id, start=obs.start.epoch_days(), end=obs.end.epoch_days()).to_pyarrow()
            pid = persons["person_id"].to_numpy()
            if len(pid) == 0:
                raise FundingInputError(f"{data_dir}: no persons.")
            o_pid = np.searchsorted(pid, obs["person_id"].to_numpy())
            start, end = obs["start"].to_numpy().astype(np.int64), obs["end"].to_numpy().astype(np.int64)
            if len(start) == 0:
                raise FundingInputError(f"{data_dir}: no observation periods.")
            data_end = dt.date(1970, 1, 1) + dt.timedelta(days=int(end.max()))
            first_year = (dt.date(1970, 1, 1) + dt.timedelta(days=int(start.min()))).year
            last_complete = data_end.year if (data_end.month, data_end.day) == (12, 31) else data_end.year - 1
            if performance_year is None:
                performance_year = last_complete
            performance_year = int(performance_year)
            if not first_year <= performance_year <= data_end.year:
                raise FundingInputError(
                    f"performance_year {performance_year} is outside the data ({first_year}–{data_end.year}).")
            if performance_year > last_complete:
                notes.append(f"performance year {performance_year} is not complete in the data (ends {data_end}).")
            years = tuple(range(first_year, performance_year + 1))
            exposure = np.zeros((len(years), len(pid)))
            for i, y in enumerate(years):
                y0 = (dt.date(y, 1, 1) - dt.date(1970, 1, 1)).days
                y1 = (dt.date(y, 12, 31) - dt.date(1970, 1, 1)).days
                days = np.clip(np.minimum(end, y1) - np.maximum(start, y0) + 1, 0, None)
                np.add.at(exposure[i], o_pid, days / (y1 - y0 + 1))
            exposure = np.minimum(exposure, 1.0)

            progress(0.15, "Reading care events")
            providers = _optional(con, data_dir, pq_dir, "providers")
            status = _optional(con, data_dir, pq_dir, "person_status")
            ev = t["care_events"]
            pers = t["persons"].select("person_id", "birth_year")
            ev = ev.join(pers, "person_id")
            year = ev.event_date.year()
            ev = ev.mutate(year=year, age=year - ev.birth_year, day=ev.event_date.epoch_days())
            ev = ev.filter(ev.year >= years[0])
            type_key = ibis.cases((ev.setting == "inpatient", ev.icd10.substr(0, 3)), else_=ev.act_code).fill_null("")
            ev = ev.mutate(type_key=type_key)
            priced = ev.filter(ev.cost_eur.notnull())
            tariffs = priced.group_by(["year", "setting", "type_key"]).aggregate(tariff=priced.cost_eur.mean())
            ev = ev.left_join(tariffs, ["year", "setting", "type_key"])
            ev = ev.mutate(amount=ev.tariff.fill_null(0.0))
            value = CATALOGUE[outcome].value(ev)
            hit = value if value.type().is_boolean() else ibis.literal(True)
            ev = ev.mutate(hit=hit.fill_null(False))
            if providers is not None:
                prov = providers.select(p_id=providers.provider_id, organisation_id=providers.organisation_id)
                ev = ev.left_join(prov, ev.provider_id == prov.p_id)
                org = ibis.coalesce(ev.organisation_id, ev.provider_id, ibis.literal(UNKNOWN))
            else:
                org = ev.provider_id.fill_null(UNKNOWN)
            ev_all = ev.mutate(org=org)  # every year from the first: episode windows may run past the performance year
            ev = ev_all.filter(ev_all.year <= years[-1])
            lines = ev.group_by(["year", "person_id", "org", "setting"]).aggregate(
                amount=ev.amount.sum(),
                affected=ibis.ifelse(ev.hit, ev.amount, 0.0).sum(),
                affected_events=ibis.ifelse(ev.hit, 1, 0).sum(),
                events=ev.count(),
            ).order_by(["year", "person_id", "org", "setting"]).to_pyarrow()
            progress(0.55, "Care aggregated by person, organisation and setting")
            perf = ev.filter(ev.year == performance_year)
            anti = perf.filter((perf.setting == "pharmacy") & perf.act_code.startswith("A10"))
            anti_ids = anti.select("person_id").distinct().to_pyarrow()["person_id"].to_numpy()
            stays = ev_all.filter(ev_all.setting == "inpatient").select(
                "person_id", "event_id", "day", "length_of_stay_days", "org", "amount", "hit", "type_key", "year"
            ).order_by(["person_id", "day", "event_id"]).to_pyarrow()
            progress(0.7, "Building episodes of care")
            org_setting = ev.group_by(["org", "setting"]).aggregate(amount=ev.amount.sum()).to_pyarrow()
            org_names = sorted(set(org_setting["org"].to_pylist()) | _declared_orgs(status, providers))
            org_index = {o: i for i, o in enumerate(org_names)}
            episodes = _episodes(con, ev_all, stays, pid, org_names, years, data_end, performance_year,
                                 int(episode_window_days), notes)
            declared = _declared(status, providers, pid, org_index) if status is not None else None
            status_cols = _status_columns(status, pid) if status is not None else None
            sectors, kinds, names = _organisation_info(providers, org_names, org_setting)
        finally:
            con.disconnect()

    progress(0.85, "Assembling the population")
    l_pid = np.searchsorted(pid, lines["person_id"].to_numpy())
    l_year = lines["year"].to_numpy().astype(np.int64) - years[0]
    l_org = _index_in(lines["org"], org_names)
    l_setting = _index_in(lines["setting"], list(SETTINGS))
    conditions = np.column_stack([persons[c].to_numpy(zero_copy_only=False).astype(bool) for c in CONDITIONS])
    sex = np.array(persons["sex"].to_pylist(), dtype=object)
    if status_cols is not None:
        ltc, low_income = status_cols
    else:
        ltc = conditions[:, CONDITIONS.index("diabetes")] | conditions[:, CONDITIONS.index("heart_failure")]
        low_income = None
        notes.append("no person_status table: long-term condition approximated by diabetes or heart failure, "
                     "no low-income cover.")
    if providers is None:
        notes.append("no providers table: each provider is its own organisation, sector unknown.")
    team = _teams(declared, l_pid, l_org, l_setting, lines["events"].to_numpy(), len(pid), len(org_names))
    antidiabetic = np.isin(pid, anti_ids)
    pop = Population.build(
        years=years, person_id=pid, birth_year=persons["birth_year"].to_numpy().astype(np.int64), exposure=exposure,
        line_year=l_year, line_person=l_pid, line_org=l_org, line_setting=l_setting,
        line_amount=lines["amount"].to_numpy(), line_affected=lines["affected"].to_numpy(),
        line_affected_events=lines["affected_events"].to_numpy().astype(float),
        line_events=lines["events"].to_numpy(), organisations=org_names, org_sector=sectors, org_kind=kinds,
        org_name=names, female=sex == "F", conditions=conditions, long_term_condition=ltc, low_income=low_income,
        territory=persons["territory_id"].to_numpy(), team=team, outcome=outcome, antidiabetic=antidiabetic,
        episodes=episodes, notes=notes, source=str(data_dir))
    if territories is not None:
        keep = np.isin(pop.territory, np.asarray(list(territories), dtype=np.int64))
        if not keep.any():
            raise FundingInputError(f"no person lives in territories {list(territories)}.")
        pop = pop.subset(keep)
    progress(1.0, f"{int(pop.observed.sum()):,} persons observed in {performance_year}")
    return pop


def _index_in(column, values: list[str]) -> np.ndarray:
    return pc.index_in(column, value_set=pa.array(values, pa.string())).to_numpy(zero_copy_only=False).astype(np.int64)


def _optional(con, data_dir: Path, pq_dir: Path, name: str):
    """An optional table (Parquet or CSV) of the original directory, as an Ibis table, or None."""
    for directory in dict.fromkeys([Path(pq_dir), Path(data_dir)]):
        if not directory.is_dir():
            continue
        found = schemas.find_table(directory, name)
        if found is None:
            continue
        if found.format == "parquet":
            return con.read_parquet(schemas.parquet_glob(found), table_name=f"tremplin_opt_{name}")
        schema = schemas.OPTIONAL_SCHEMAS[name]
        table = pacsv.read_csv(found.path, convert_options=pacsv.ConvertOptions(
            column_types={f.name: f.type for f in schema}, strings_can_be_null=True))
        missing = [f.name for f in schema if not f.nullable and f.name not in table.column_names]
        if missing:
            raise FundingInputError(f"{found.path}: missing column(s) {', '.join(missing)}.")
        return ibis.memtable(table)
    return None


def _declared_orgs(status, providers) -> set[str]:
    if status is None:
        return set()
    gp = status.filter(status.gp_provider_id.notnull()).select("gp_provider_id").distinct()
    if providers is not None:
        gp = gp.left_join(providers.select("provider_id", "organisation_id"), gp.gp_provider_id == providers.provider_id)
        gp = gp.select(org=ibis.coalesce(gp.organisation_id, gp.gp_provider_id))
    else:
        gp = gp.select(org=gp.gp_provider_id)
    return set(gp.to_pyarrow()["org"].to_pylist())


def _declared(status, providers, pid: np.ndarray, org_index: dict[str, int]) -> np.ndarray:
    """Organisation index of each person's declared GP (-1 when none)."""
    gp = status.select("person_id", "gp_provider_id")
    if providers is not None:
        gp = gp.left_join(providers.select("provider_id", "organisation_id"), gp.gp_provider_id == providers.provider_id)
        gp = gp.select("person_id", org=ibis.coalesce(gp.organisation_id, gp.gp_provider_id))
    else:
        gp = gp.select("person_id", org=gp.gp_provider_id)
    table = gp.to_pyarrow()
    out = np.full(len(pid), -1, dtype=np.int64)
    ids = table["person_id"].to_numpy()
    orgs = table["org"].to_pylist()
    pos = np.searchsorted(pid, ids)
    ok = (pos < len(pid)) & (pid[np.minimum(pos, len(pid) - 1)] == ids)
    for p, o, good in zip(pos, orgs, ok, strict=True):
        if good and o is not None:
            out[p] = org_index[o]
    return out


def _status_columns(status, pid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    table = status.select("person_id", "long_term_condition", "low_income").to_pyarrow()
    ids = table["person_id"].to_numpy()
    pos = np.searchsorted(pid, ids)
    ok = (pos < len(pid)) & (pid[np.minimum(pos, len(pid) - 1)] == ids)
    ltc = np.zeros(len(pid), bool)
    low = np.zeros(len(pid), bool)
    ltc_v = np.array(table["long_term_condition"].to_pylist(), dtype=object)
    low_v = np.array(table["low_income"].to_pylist(), dtype=object)
    ltc[pos[ok]] = ltc_v[ok] == True  # noqa: E712  (null counts as no cover)
    low[pos[ok]] = low_v[ok] == True  # noqa: E712
    return ltc, low


def _organisation_info(providers, org_names: list[str], org_setting) -> tuple[list[str], list[str], list[str]]:
    """Sector, kind and name of each organisation: from the providers table, else kind from the settings."""
    sectors = dict.fromkeys(org_names, UNKNOWN)
    kinds: dict[str, str] = {}
    names = {o: o for o in org_names}
    if providers is not None:
        table = providers.to_pyarrow()
        for org, sector, kind, name in zip(table["organisation_id"].to_pylist(), table["sector"].to_pylist(),
                                           table["kind"].to_pylist(), table["organisation_name"].to_pylist(),
                                           strict=True):
            if org in sectors:
                sectors[org] = sector or UNKNOWN
                if kind and (kinds.get(org) in (None, "home_care") or kind == "primary_care"):
                    kinds[org] = kind  # a team with GPs and nurses is primary care
                if name:
                    names[org] = name
    by_setting: dict[str, dict[str, float]] = {}
    for org, setting, amount in zip(org_setting["org"].to_pylist(), org_setting["setting"].to_pylist(),
                                    org_setting["amount"].to_pylist(), strict=True):
        by_setting.setdefault(org, {}).setdefault(setting, 0.0)
        by_setting[org][setting] += amount
    from_setting = {"outpatient": "primary_care", "home": "home_care", "pharmacy": "pharmacy",
                    "inpatient": "hospital", "emergency": "hospital"}
    for org in org_names:
        if org not in kinds:
            settings = by_setting.get(org)
            kinds[org] = from_setting[max(settings, key=settings.get)] if settings else "other"
    return [sectors[o] for o in org_names], [kinds[o] for o in org_names], [names[o] for o in org_names]


def _teams(declared, l_pid, l_org, l_setting, l_events, n: int, k: int) -> np.ndarray:
    """Registered team: the declared GP's organisation when the data declare GPs (`person_status`), else the
    organisation of the person's most outpatient visits."""
    if declared is not None:
        return declared
    outpatient = l_setting == SETTINGS.index("outpatient")
    team = np.full(n, -1, dtype=np.int64)
    if outpatient.any():
        key = l_pid[outpatient] * k + l_org[outpatient]
        uniq, inverse = np.unique(key, return_inverse=True)
        visits = np.bincount(inverse, l_events[outpatient], minlength=len(uniq))
        persons, orgs = uniq // k, uniq % k
        # most visits first, then the lowest organisation index
        order = np.lexsort((orgs, -visits, persons))
        first = np.r_[True, persons[order][1:] != persons[order][:-1]]
        team[persons[order][first]] = orgs[order][first]
    return team


def _episodes(con, ev, stays, pid, org_names, years, data_end: dt.date, performance_year: int, window: int,
              notes: list[str]) -> Episodes | None:
    """Episodes of care of the performance period and up to three baseline periods."""
    if stays.num_rows == 0:
        return None
    person = stays["person_id"].to_numpy()
    day = stays["day"].to_numpy().astype(np.int64)
    los = stays["length_of_stay_days"].to_numpy().astype(np.int64)
    amount = stays["amount"].to_numpy()
    hit = np.asarray(stays["hit"].to_numpy(zero_copy_only=False), dtype=bool)
    org = _index_in(stays["org"], org_names)
    key = np.array(stays["type_key"].to_pylist(), dtype=object)
    year = stays["year"].to_numpy()
    # sequential rule: a stay opens an episode unless it is admitted before the open episode's end
    anchor = np.zeros(len(person), bool)
    ends = np.zeros(len(person), np.int64)
    current_person, current_end = None, -1
    for i in range(len(person)):
        if person[i] != current_person or day[i] > current_end:
            anchor[i] = True
            current_person = person[i]
            current_end = day[i] + los[i] + window
        ends[i] = current_end
    idx = np.flatnonzero(anchor)
    ep_end = day[idx] + los[idx] + window
    epoch = dt.date(1970, 1, 1)
    last_end = min((data_end - epoch).days, (dt.date(performance_year, 12, 31) - epoch).days + window)
    # performance period: the 365 days of window ends up to `last_end` (complete windows); then 3 baseline periods
    period = np.full(len(idx), -1, dtype=np.int64)
    periods = []
    for p in range(4):
        hi = last_end - 365 * p
        lo = hi - 365
        inside = (ep_end > lo) & (ep_end <= hi)
        period[inside] = p
        periods.append((_iso(lo + 1), _iso(hi)))
    keep = period >= 0
    idx, ep_end, period = idx[keep], ep_end[keep], period[keep]
    if len(idx) == 0:
        notes.append("no episode of care has a complete window in the data.")
        return None
    table = {
        "episode": np.arange(len(idx), dtype=np.int64),
        "e_person": person[idx],
        "e_start": day[idx],
        "e_end": ep_end,
    }
    ep = ibis.memtable(pa.table(table))
    joined = ev.join(ep, [ev.person_id == ep.e_person, ev.day >= ep.e_start, ev.day <= ep.e_end])
    sums = joined.group_by("episode").aggregate(
        amount=joined.amount.sum(), affected=ibis.ifelse(joined.hit, joined.amount, 0.0).sum()
    ).order_by("episode").to_pyarrow()
    total = np.zeros(len(idx))
    affected = np.zeros(len(idx))
    total[sums["episode"].to_numpy()] = sums["amount"].to_numpy()
    affected[sums["episode"].to_numpy()] = sums["affected"].to_numpy()
    anchor_amount = amount[idx]
    anchor_hit = hit[idx]
    post_affected = np.maximum(affected - np.where(anchor_hit, anchor_amount, 0.0), 0.0)
    cats, cat_index = np.unique(np.where(key[idx] == "", UNKNOWN, key[idx]).astype(str), return_inverse=True)
    years_index = {y: i for i, y in enumerate(years)}
    ep_year = np.array([years_index.get(int(y), -1) for y in year[idx]], dtype=np.int64)
    valid = ep_year >= 0  # anchors admitted before the first year (cannot happen) or after the performance year
    return Episodes(
        window_days=window, person=np.searchsorted(pid, person[idx])[valid], organisation=org[idx][valid],
        period=period[valid], year=ep_year[valid], category=cat_index[valid], categories=tuple(cats.tolist()),
        amount=total[valid], anchor_amount=anchor_amount[valid], anchor_affected=anchor_hit[valid],
        post_affected=post_affected[valid], periods=tuple(periods))
