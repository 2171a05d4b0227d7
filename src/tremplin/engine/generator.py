"""Synthetic region generator: our demo data and our ground truth.

A region of K territories (grouped in zones) with an age pyramid, sex, chronic conditions whose
prevalence rises with age, care use and costs by age and condition, seasonality and secular trends.
Interventions start in chosen territories at staggered dates and change one outcome by a planted
relative effect (optionally heterogeneous by cohort and growing with exposure time).

Everything is drawn with `np.random.default_rng` from the seed, person chunk by person chunk (a
fixed chunk size, so the output does not depend on memory settings), and written to Parquet chunk by
chunk: memory stays bounded whatever the number of events.

The planted effect is applied by thinning (negative effects) or by adding events (positive effects)
with a random stream of its own, so a run with `effect=0` and the same seed is exactly the
counterfactual of a run with an effect; `truth.json` records, per cohort and month, how many events
the intervention removed or added, hence the true ATT on the panel's scale.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tremplin.engine import schemas
from tremplin.engine.errors import EngineInputError

Progress = Callable[[float, str], None]

EffectOutcome = Literal[
    "avoidable_hospitalisations", "hospitalisation_rate", "emergency_visit_rate", "outpatient_visits_per_capita"
]
EFFECT_OUTCOMES: tuple[str, ...] = (
    "avoidable_hospitalisations",
    "hospitalisation_rate",
    "emergency_visit_rate",
    "outpatient_visits_per_capita",
)

CHUNK_PERSONS = 20_000
"""Persons per generation chunk (fixed: part of the definition of the output for a seed)."""

# Approximate French age pyramid (share of the population by 5-year band, 0-4 ... 95-99).
AGE_BAND_SHARES = np.array(
    [5.6, 6.0, 6.2, 6.1, 5.6, 5.6, 6.0, 6.2, 6.1, 6.7, 6.6, 6.5, 6.1, 5.8, 5.1, 3.4, 2.9, 2.0, 1.0, 0.3]
)

# Streams of events: name -> (setting, yearly base rate, yearly trend).
STREAMS: dict[str, tuple[str, float, float]] = {
    "outpatient": ("outpatient", 5.0, 0.02),
    "pharmacy": ("pharmacy", 4.0, 0.01),
    "emergency": ("emergency", 0.30, 0.03),
    "inpatient_other": ("inpatient", 0.10, -0.01),
    "inpatient_avoidable": ("inpatient", 0.004, -0.02),
    "home": ("home", 0.01, 0.04),
}
EFFECT_STREAMS: dict[str, tuple[str, ...]] = {
    "avoidable_hospitalisations": ("inpatient_avoidable",),
    "hospitalisation_rate": ("inpatient_avoidable", "inpatient_other"),
    "emergency_visit_rate": ("emergency",),
    "outpatient_visits_per_capita": ("outpatient",),
}

# Avoidable hospitalisation mix (DREES, 2017 data) -> code generated (principal diagnosis).
AVOIDABLE_MIX = (
    ("heart_failure", 0.50, ("I500", "I501", "I509", "I110")),
    ("copd", 0.22, ("J441", "J440", "J449", "J43")),
    ("dehydration", 0.11, ("E86", "E870")),
    ("angina", 0.08, ("I200", "I209", "I249")),
    ("asthma", 0.06, ("J459", "J46")),
    ("diabetes_short_term", 0.03, ("E110", "E101", "E111")),
)
OTHER_INPATIENT_CODES = ("K358", "S720", "C509", "I219", "J189", "N390", "K802", "M170", "R073", "O800", "I639")
OUTPATIENT_ACTS = (("G", 0.45), ("APC", 0.15), ("CS", 0.15), ("DEQP003", 0.1), ("ZBQK002", 0.08), ("YYYY600", 0.07))
PHARMACY_ACTS = (
    ("N02BE01", 0.3),
    ("C09AA05", 0.15),
    ("A10BA02", 0.15),
    ("R03AC02", 0.1),
    ("J01CA04", 0.15),
    ("C03CA01", 0.15),
)
HOME_ACTS = (("AMI1", 0.6), ("AIS3", 0.4))
EMERGENCY_ACTS = (("ATU", 1.0),)
TERRITORIES_PER_ZONE = 25


@dataclass(frozen=True)
class GenerationResult:
    """What `generate_region` wrote."""

    out_dir: Path
    persons: int
    events: int
    territories: int
    treated_territories: tuple[int, ...]
    truth_path: Path
    files: tuple[Path, ...] = field(default_factory=tuple)


@dataclass
class _Calendar:
    start_year: int
    months: int
    month_start: np.ndarray = field(init=False)  # days since 1970-01-01
    days_in_month: np.ndarray = field(init=False)
    year: np.ndarray = field(init=False)
    month_of_year: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        m = np.arange(self.months + 1)
        years = self.start_year + m // 12
        moy = m % 12 + 1
        epoch = dt.date(1970, 1, 1)
        starts = np.array([(dt.date(int(y), int(mo), 1) - epoch).days for y, mo in zip(years, moy, strict=True)])
        self.month_start = starts[:-1].astype(np.int32)
        self.days_in_month = np.diff(starts).astype(np.int32)
        self.year = years[:-1].astype(np.int32)
        self.month_of_year = moy[:-1].astype(np.int32)

    def date(self, month: int) -> dt.date:
        return dt.date(int(self.year[month]), int(self.month_of_year[month]), 1)


def _noop(fraction: float, message: str) -> None:
    return None


def _check_options(persons, territories, years, treated_share, effect, outcome, fmt, cohorts) -> None:
    if persons < 1:
        raise EngineInputError(f"--persons must be at least 1 (got {persons}).")
    if territories < 1:
        raise EngineInputError(f"--territories must be at least 1 (got {territories}).")
    if persons < territories:
        raise EngineInputError(f"--persons ({persons}) must be at least --territories ({territories}).")
    if years < 2:
        raise EngineInputError(f"--years must be at least 2 to have periods before and after (got {years}).")
    if not 0.0 <= treated_share <= 1.0:
        raise EngineInputError(f"--treated-share must be between 0 and 1 (got {treated_share}).")
    if effect < -1.0:
        raise EngineInputError(f"--effect is a relative change and cannot be below -1 (got {effect}).")
    if outcome not in EFFECT_OUTCOMES:
        raise EngineInputError(f"Unknown --outcome {outcome!r}; allowed: {', '.join(EFFECT_OUTCOMES)}.")
    if fmt not in ("ours", "omop"):
        raise EngineInputError(f"Unknown --format {fmt!r}; allowed: ours, omop.")
    if cohorts < 1:
        raise EngineInputError(f"cohorts must be at least 1 (got {cohorts}).")


def _choice(rng: np.random.Generator, options: tuple[tuple[str, float], ...], size: int) -> np.ndarray:
    probs = np.array([p for _, p in options], dtype=float)
    return rng.choice(len(options), size=size, p=probs / probs.sum())


def generate_region(
    out_dir: str | Path,
    *,
    persons: int,
    territories: int,
    years: int,
    seed: int,
    treated_share: float = 0.3,
    effect: float = -0.12,
    outcome: str = "avoidable_hospitalisations",
    effect_growth: float = 0.0,
    cohort_heterogeneity: float = 0.0,
    cohorts: int = 3,
    start_year: int = 2019,
    format: Literal["ours", "omop"] = "ours",
    overwrite: bool = False,
    progress: Progress | None = None,
) -> GenerationResult:
    """Generate a synthetic region and write it to `out_dir` (all or nothing).

    `effect` is the relative change of `outcome` in treated territories once their intervention has
    started; at exposure `e` months in cohort `g` the change is
    `effect * f_g * (1 + effect_growth * e / 12)` where the cohort factors `f_g` are spread evenly in
    `[1 - cohort_heterogeneity, 1 + cohort_heterogeneity]`.
    Writes the four tables as Parquet (or OMOP CDM 5.4 tables with `format="omop"`) and `truth.json`.
    """
    _check_options(persons, territories, years, treated_share, effect, outcome, format, cohorts)
    progress = progress or _noop
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()) and not overwrite:
        raise EngineInputError(f"{out_dir} exists and is not empty; choose another directory or overwrite it.")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.parent / f".{out_dir.name}.tmp-generate"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        result = _generate(
            tmp,
            persons=persons,
            territories=territories,
            years=years,
            seed=seed,
            treated_share=treated_share,
            effect=effect,
            outcome=outcome,
            effect_growth=effect_growth,
            cohort_heterogeneity=cohort_heterogeneity,
            cohorts=cohorts,
            start_year=start_year,
            progress=progress,
        )
        if format == "omop":
            from tremplin.engine.omop import write_omop

            progress(0.96, "Writing OMOP CDM tables")
            omop_tmp = out_dir.parent / f".{out_dir.name}.tmp-omop"
            shutil.rmtree(omop_tmp, ignore_errors=True)
            write_omop(tmp, omop_tmp)
            shutil.move(str(tmp / "truth.json"), omop_tmp / "truth.json")
            shutil.rmtree(tmp)
            tmp = omop_tmp
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    progress(1.0, f"Wrote {result.events:,} events for {result.persons:,} persons")
    files = tuple(sorted(p for p in out_dir.iterdir()))
    return GenerationResult(
        out_dir=out_dir,
        persons=result.persons,
        events=result.events,
        territories=result.territories,
        treated_territories=result.treated_territories,
        truth_path=out_dir / "truth.json",
        files=files,
    )


def _age_pyramid(rng: np.random.Generator, n: int) -> np.ndarray:
    band = rng.choice(len(AGE_BAND_SHARES), size=n, p=AGE_BAND_SHARES / AGE_BAND_SHARES.sum())
    return band * 5 + rng.integers(0, 5, size=n)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _generate(
    tmp: Path,
    *,
    persons: int,
    territories: int,
    years: int,
    seed: int,
    treated_share: float,
    effect: float,
    outcome: str,
    effect_growth: float,
    cohort_heterogeneity: float,
    cohorts: int,
    start_year: int,
    progress: Progress,
) -> GenerationResult:
    cal = _Calendar(start_year, 12 * years)
    n_months = cal.months
    k = territories
    rng_region = np.random.default_rng([seed, 0])

    # Territories, zones and populations.
    weights = rng_region.lognormal(0.0, 0.8, size=k)
    sizes = rng_region.multinomial(persons - k, weights / weights.sum()) + 1
    terr_effect = np.concatenate([[1.0], rng_region.lognormal(0.0, 0.15, size=k)])
    n_zones = max(1, math.ceil(k / TERRITORIES_PER_ZONE))
    zone_of = np.concatenate([[0], np.arange(k) // TERRITORIES_PER_ZONE + 1])  # 1-based zone, by territory id

    # Interventions: treated territories, staggered start months, cohort factors.
    n_treated = round(treated_share * k)
    treated = np.sort(rng_region.choice(np.arange(1, k + 1), size=n_treated, replace=False)).astype(np.int64)
    n_cohorts = min(cohorts, max(n_treated, 1))
    cohort_months = np.unique(np.round(np.linspace(12, n_months - 12, n_cohorts) / 3).astype(int) * 3)
    if n_months - 12 <= 12:
        cohort_months = np.array([12])
    cohort_of_treated = rng_region.permutation(np.arange(n_treated) % len(cohort_months))
    cohort_factor_values = (
        np.linspace(1 - cohort_heterogeneity, 1 + cohort_heterogeneity, len(cohort_months))
        if len(cohort_months) > 1
        else np.ones(1)
    )
    big = np.iinfo(np.int32).max
    start_month = np.full(k + 1, big, dtype=np.int64)
    cohort_factor = np.zeros(k + 1)
    start_month[treated] = cohort_months[cohort_of_treated]
    cohort_factor[treated] = cohort_factor_values[cohort_of_treated]
    effect_streams = EFFECT_STREAMS[outcome]

    # Vocabularies for dictionary-built string columns.
    setting_vocab = pa.array(schemas.SETTINGS)
    setting_idx = {s: i for i, s in enumerate(schemas.SETTINGS)}
    icd_codes = [c for _, _, codes in AVOIDABLE_MIX for c in codes] + list(OTHER_INPATIENT_CODES)
    icd_vocab = pa.array(icd_codes)
    icd_index = {c: i for i, c in enumerate(icd_codes)}
    act_codes = [a for table in (OUTPATIENT_ACTS, PHARMACY_ACTS, HOME_ACTS, EMERGENCY_ACTS) for a, _ in table]
    act_vocab = pa.array(act_codes)
    act_offset = {
        "outpatient": 0,
        "pharmacy": len(OUTPATIENT_ACTS),
        "home": len(OUTPATIENT_ACTS) + len(PHARMACY_ACTS),
        "emergency": len(OUTPATIENT_ACTS) + len(PHARMACY_ACTS) + len(HOME_ACTS),
    }
    vocab = _Vocab(setting_idx, icd_index, act_offset, k, zone_of)
    tids = np.arange(1, k + 1)
    provider_names = (
        [f"GP{t:05d}-{j}" for t in tids for j in range(3)]
        + [f"PH{t:05d}" for t in tids]
        + [f"HOME{t:05d}" for t in tids]
        + [f"HOSP{z:04d}" for z in range(1, n_zones + 1)]
    )
    provider_vocab = pa.array(provider_names)

    # Write territories.
    terr_table = pa.table(
        {
            "territory_id": pa.array(np.concatenate([tids, k + np.arange(1, n_zones + 1)]), pa.int64()),
            "code": [f"T{t:05d}" for t in tids] + [f"Z{z:04d}" for z in range(1, n_zones + 1)],
            "name": [f"Territoire {t}" for t in tids] + [f"Zone {z}" for z in range(1, n_zones + 1)],
            "level": ["territory"] * k + ["zone"] * n_zones,
            "parent_id": pa.array(np.concatenate([k + zone_of[1:], np.full(n_zones, -1)]), pa.int64()),
            "population": pa.array(
                np.concatenate([sizes, [sizes[zone_of[1:] == z].sum() for z in range(1, n_zones + 1)]]),
                pa.int64(),
            ),
        }
    )
    parent = terr_table["parent_id"].to_numpy()
    terr_table = terr_table.set_column(4, "parent_id", pa.array(parent, pa.int64(), mask=parent < 0)).cast(
        schemas.TERRITORIES
    )
    pq.write_table(terr_table, tmp / "territories.parquet")
    pq.write_table(_providers_table(seed, tids, n_zones), tmp / "providers.parquet")

    person_territory = np.repeat(tids, sizes).astype(np.int64)
    n_chunks = math.ceil(persons / CHUNK_PERSONS)

    # Accumulators per (territory, month) for the ground truth.
    cells = (k + 1) * n_months
    at_risk = np.zeros(cells, dtype=np.int64)
    base_counts = np.zeros(cells, dtype=np.int64)
    delta_counts = np.zeros(cells, dtype=np.int64)

    month_idx = np.arange(n_months)
    moy = cal.month_of_year
    winter = 1.0 + 0.2 * np.cos(2 * np.pi * (moy - 1) / 12)
    out_season = (1.0 + 0.08 * np.cos(2 * np.pi * (moy - 1) / 12)) * np.where(moy == 8, 0.75, 1.0)

    writers = {
        name: pq.ParquetWriter(tmp / f"{name}.parquet", schema)
        for name, schema in (
            ("persons", schemas.PERSONS),
            ("observation_periods", schemas.OBSERVATION_PERIODS),
            ("care_events", schemas.CARE_EVENTS),
            ("person_status", schemas.PERSON_STATUS),
        )
    }
    n_events = 0
    try:
        for c in range(n_chunks):
            lo, hi = c * CHUNK_PERSONS, min(persons, (c + 1) * CHUNK_PERSONS)
            n = hi - lo
            rng = np.random.default_rng([seed, 1, c])
            rng_effect = np.random.default_rng([seed, 2, c])
            pid = np.arange(lo + 1, hi + 1, dtype=np.int64)
            terr = person_territory[lo:hi]
            age0 = _age_pyramid(rng, n)
            birth_year = (start_year - age0).astype(np.int32)
            p_female = 0.49 + 0.003 * np.maximum(age0 - 60, 0)
            female = rng.random(n) < p_female
            flags = {
                "diabetes": rng.random(n) < 0.005 + 0.18 * _sigmoid((age0 - 62) / 9),
                "heart_failure": rng.random(n) < 0.002 + 0.12 * _sigmoid((age0 - 80) / 7),
                "copd": rng.random(n) < 0.003 + 0.08 * _sigmoid((age0 - 60) / 8),
                "asthma": rng.random(n) < 0.06,
                "hypertension": rng.random(n) < 0.01 + 0.45 * _sigmoid((age0 - 60) / 8),
            }
            n_cond = sum(f.astype(np.int8) for f in flags.values())
            writers["person_status"].write_table(_person_status(
                np.random.default_rng([seed, 3, c]), pid, terr, age0, flags, provider_vocab))
            # Observation: most persons are followed throughout; some arrive late, some leave early.
            obs_start = np.where(rng.random(n) < 0.08, rng.integers(0, n_months, size=n), 0)
            leaves = rng.random(n) < 0.08
            obs_end = np.where(leaves, rng.integers(0, n_months, size=n), n_months - 1)
            obs_end = np.maximum(obs_end, obs_start)

            writers["persons"].write_table(
                pa.table(
                    {
                        "person_id": pid,
                        "birth_year": birth_year,
                        "sex": np.where(female, "F", "M"),
                        "territory_id": terr,
                        **flags,
                    },
                    schema=schemas.PERSONS,
                )
            )
            writers["observation_periods"].write_table(
                pa.table(
                    {
                        "person_id": pid,
                        "start": pa.array(cal.month_start[obs_start]).cast(pa.date32()),
                        "end": pa.array(cal.month_start[obs_end] + cal.days_in_month[obs_end] - 1).cast(pa.date32()),
                    },
                    schema=schemas.OBSERVATION_PERIODS,
                )
            )
            # At risk per territory-month: +1 at the first month, -1 after the last.
            diff = np.zeros((k + 1) * (n_months + 1), dtype=np.int64)
            np.add.at(diff, terr * (n_months + 1) + obs_start, 1)
            np.add.at(diff, terr * (n_months + 1) + obs_end + 1, -1)
            at_risk += np.cumsum(diff.reshape(k + 1, n_months + 1), axis=1)[:, :n_months].ravel()

            age = cal.year[None, :] - birth_year[:, None]  # age in each month (year difference)
            observed = (month_idx[None, :] >= obs_start[:, None]) & (month_idx[None, :] <= obs_end[:, None])
            person_mult = terr_effect[terr] * (1.0 + 0.15 * (zone_of[terr] % 3))

            def rate_matrix(
                stream: str, age=age, observed=observed, person_mult=person_mult, n_cond=n_cond, flags=flags
            ):
                _, base, trend = STREAMS[stream]
                trend_m = (1.0 + trend) ** (month_idx / 12.0)
                if stream == "outpatient":
                    af = np.where(age < 5, 1.5, 0.8 + 0.02 * np.maximum(age - 40, 0))
                    lam = af * (1.0 + 0.6 * n_cond)[:, None] * out_season[None, :]
                elif stream == "pharmacy":
                    lam = (0.6 + 0.025 * age) * (1.0 + 0.8 * n_cond)[:, None]
                elif stream == "emergency":
                    lam = np.where(age < 5, 1.5, np.where(age >= 75, 1.8, 1.0)) * winter[None, :]
                elif stream == "inpatient_other":
                    lam = (0.5 + np.maximum(age, 0) / 40.0) * winter[None, :]
                elif stream == "inpatient_avoidable":
                    cond = (
                        1.0
                        + 6.0 * flags["heart_failure"]
                        + 4.0 * flags["copd"]
                        + 2.0 * flags["diabetes"]
                        + 1.0 * flags["asthma"]
                    )
                    lam = np.where(age >= 18, np.where(age >= 65, 3.0, 1.0), 0.0) * cond[:, None] * winter[None, :]
                else:  # home
                    lam = np.where(age >= 75, 10.0, 1.0) * (1.0 + n_cond)[:, None] * np.ones(n_months)[None, :]
                return lam * (base / 12.0) * trend_m[None, :] * person_mult[:, None] * observed

            parts = []
            for stream in STREAMS:
                lam = rate_matrix(stream)
                counts = rng.poisson(lam)
                pi, mi = np.nonzero(counts)
                reps = counts[pi, mi]
                pi, mi = np.repeat(pi, reps), np.repeat(mi, reps)
                cell = terr[pi] * n_months + mi
                if stream in effect_streams:
                    base_counts += np.bincount(cell, minlength=cells)
                    t = terr[pi]
                    exposure = mi - start_month[t]
                    rel = np.where(
                        exposure >= 0, effect * cohort_factor[t] * (1.0 + effect_growth * exposure / 12.0), 0.0
                    )
                    rel = np.maximum(rel, -1.0)
                    u = rng_effect.random(len(pi))
                    keep = ~((rel < 0) & (u < -rel))
                    delta_counts -= np.bincount(cell[~keep], minlength=cells)
                    pi, mi = pi[keep], mi[keep]
                    # Positive effects: extra events at rate rel * lambda in treated months.
                    exp_m = month_idx[None, :] - start_month[terr][:, None]
                    rel_m = np.where(
                        exp_m >= 0,
                        effect * cohort_factor[terr][:, None] * (1.0 + effect_growth * exp_m / 12.0),
                        0.0,
                    )
                    extra = rng_effect.poisson(np.maximum(rel_m, 0.0) * lam)
                    epi, emi = np.nonzero(extra)
                    ereps = extra[epi, emi]
                    epi, emi = np.repeat(epi, ereps), np.repeat(emi, ereps)
                    delta_counts += np.bincount(terr[epi] * n_months + emi, minlength=cells)
                    pi, mi = np.concatenate([pi, epi]), np.concatenate([mi, emi])
                parts.append(_stream_events(stream, rng, pi, mi, terr, age, cal, vocab))

            chunk = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
            m = len(chunk["pi"])
            event_table = pa.table(
                {
                    "event_id": pa.array(n_events + np.arange(1, m + 1), pa.int64()),
                    "person_id": pa.array(pid[chunk["pi"]], pa.int64()),
                    "event_date": pa.array(chunk["date"].astype(np.int32)).cast(pa.date32()),
                    "setting": setting_vocab.take(pa.array(chunk["setting"])),
                    "icd10": icd_vocab.take(pa.array(chunk["icd"], mask=chunk["icd"] < 0)),
                    "act_code": act_vocab.take(pa.array(chunk["act"], mask=chunk["act"] < 0)),
                    "provider_id": provider_vocab.take(pa.array(chunk["provider"])),
                    "length_of_stay_days": pa.array(chunk["los"].astype(np.int32)),
                    "cost_eur": pa.array(chunk["cost"]),
                },
                schema=schemas.CARE_EVENTS,
            )
            writers["care_events"].write_table(event_table)
            n_events += m
            progress(0.95 * (c + 1) / n_chunks, f"Generated {hi:,}/{persons:,} persons, {n_events:,} events")
    finally:
        for w in writers.values():
            w.close()

    truth = _truth(
        cal=cal,
        seed=seed,
        persons=persons,
        territories=k,
        years=years,
        outcome=outcome,
        effect=effect,
        effect_growth=effect_growth,
        cohort_heterogeneity=cohort_heterogeneity,
        treated=treated,
        start_month=start_month,
        cohort_months=cohort_months,
        cohort_factor_values=cohort_factor_values,
        at_risk=at_risk.reshape(k + 1, n_months),
        base_counts=base_counts.reshape(k + 1, n_months),
        delta_counts=delta_counts.reshape(k + 1, n_months),
        events=n_events,
    )
    (tmp / "truth.json").write_text(json.dumps(truth, indent=1), encoding="utf-8")
    return GenerationResult(
        out_dir=tmp,
        persons=persons,
        events=n_events,
        territories=k,
        treated_territories=tuple(int(t) for t in treated),
        truth_path=tmp / "truth.json",
    )


# Optional tables (their own random streams: the four schema tables are unchanged by them).
MSP_SECTOR_SHARES = (("private_for_profit", 0.55), ("public", 0.15), ("social_economy", 0.15), ("community", 0.15))
"""Sector of a territory's primary-care team: mostly liberal MSPs; municipal, mutualist and community health centres."""
HOSPITAL_SECTOR_SHARES = (("public", 0.65), ("private_for_profit", 0.25), ("private_non_profit", 0.10))
"""Roughly the split of hospital stays by sector in France: public hospitals about two thirds, private clinics about
a quarter, private non-profit hospitals the rest (DREES, Les établissements de santé, yearly panorama)."""


def _providers_table(seed: int, tids: np.ndarray, n_zones: int) -> pa.Table:
    """Who the generator's providers are: per territory a primary-care team (MSP: GP practices 0 and 1 and the home
    nurses), a solo GP practice (practice 2) and a pharmacy; per zone a hospital."""
    rng = np.random.default_rng([seed, 4])
    msp_sector = _choice(rng, MSP_SECTOR_SHARES, len(tids))
    hosp_sector = _choice(rng, HOSPITAL_SECTOR_SHARES, n_zones)
    rows: dict[str, list] = {name: [] for name in schemas.PROVIDERS.names}

    def add(provider, organisation, name, sector, kind):
        for key, value in zip(schemas.PROVIDERS.names, (provider, organisation, name, sector, kind), strict=True):
            rows[key].append(value)

    for i, t in enumerate(tids):
        team_sector = MSP_SECTOR_SHARES[msp_sector[i]][0]
        add(f"GP{t:05d}-0", f"MSP{t:05d}", f"Maison de santé {t}", team_sector, "primary_care")
        add(f"GP{t:05d}-1", f"MSP{t:05d}", f"Maison de santé {t}", team_sector, "primary_care")
        add(f"GP{t:05d}-2", f"CAB{t:05d}", f"Cabinet médical {t}", "private_for_profit", "primary_care")
        add(f"PH{t:05d}", f"PHA{t:05d}", f"Pharmacie {t}", "private_for_profit", "pharmacy")
        add(f"HOME{t:05d}", f"MSP{t:05d}", f"Maison de santé {t}", team_sector, "home_care")
    for z in range(1, n_zones + 1):
        add(f"HOSP{z:04d}", f"HOSP{z:04d}", f"Hôpital {z}", HOSPITAL_SECTOR_SHARES[hosp_sector[z - 1]][0], "hospital")
    return pa.table(rows, schema=schemas.PROVIDERS)


def _person_status(rng: np.random.Generator, pid, terr, age0, flags, provider_vocab: pa.Array) -> pa.Table:
    """Long-term condition (ALD), low-income cover (CSS) and declared GP (médecin traitant) of a chunk of persons.

    ALD: diabetes (ALD 8) and heart failure (ALD 5) nearly always, severe COPD (ALD 14) for half of the COPD
    patients, other ALD (cancers, psychiatric, neurological...) rising with age: close to the French order of
    magnitude (about one person in six in ALD, Cnam). CSS: about 11 % (roughly 7 M beneficiaries in France), more
    among the young. A declared GP for 90 % of the persons, one of the three practices of their territory.
    """
    n = len(pid)
    p_ald = np.where(flags["diabetes"] | flags["heart_failure"], 0.9, 0.0)
    p_ald = np.maximum(p_ald, np.where(flags["copd"], 0.5, 0.0))
    p_other = 0.05 + 0.20 * _sigmoid((age0 - 70) / 8)
    ald = (rng.random(n) < p_ald) | (rng.random(n) < p_other)
    p_css = np.where(age0 < 25, 0.15, np.where(age0 < 60, 0.11, 0.05))
    css = rng.random(n) < p_css
    declared = rng.random(n) < 0.9
    practice = rng.integers(0, 3, size=n)
    gp = provider_vocab.take(pa.array((terr - 1) * 3 + practice, mask=~declared))  # GP{t}-{j} is entry 3 (t - 1) + j
    return pa.table({"person_id": pa.array(pid, pa.int64()), "long_term_condition": ald, "low_income": css,
                     "gp_provider_id": gp}, schema=schemas.PERSON_STATUS)


@dataclass(frozen=True)
class _Vocab:
    setting_idx: dict[str, int]
    icd_index: dict[str, int]
    act_offset: dict[str, int]
    k: int
    zone_of: np.ndarray


def _stream_events(stream, rng, pi, mi, terr, age, cal, vocab: _Vocab) -> dict[str, np.ndarray]:
    """Dates, codes, providers, lengths of stay and costs of one stream's events."""
    n = len(pi)
    setting = STREAMS[stream][0]
    date = cal.month_start[mi] + rng.integers(0, cal.days_in_month[mi])
    t = terr[pi]
    k = vocab.k
    icd = np.full(n, -1, dtype=np.int64)
    act = np.full(n, -1, dtype=np.int64)
    los = np.zeros(n, dtype=np.int64)
    if stream == "outpatient":
        act = vocab.act_offset["outpatient"] + _choice(rng, OUTPATIENT_ACTS, n)
        provider = (t - 1) * 3 + rng.integers(0, 3, size=n)
        cost = rng.gamma(2.0, 15.0, size=n) + 10.0
    elif stream == "pharmacy":
        act = vocab.act_offset["pharmacy"] + _choice(rng, PHARMACY_ACTS, n)
        provider = 3 * k + (t - 1)
        cost = rng.gamma(1.2, 40.0, size=n)
    elif stream == "home":
        act = vocab.act_offset["home"] + _choice(rng, HOME_ACTS, n)
        provider = 4 * k + (t - 1)
        cost = rng.gamma(2.0, 30.0, size=n)
    elif stream == "emergency":
        act = vocab.act_offset["emergency"] + _choice(rng, EMERGENCY_ACTS, n)
        provider = 5 * k + vocab.zone_of[t] - 1
        cost = rng.gamma(3.0, 80.0, size=n)
    else:
        provider = 5 * k + vocab.zone_of[t] - 1
        a = age[pi, mi]
        los = 1 + rng.poisson(3.0 + np.maximum(a, 0) / 25.0)
        cost = los * rng.gamma(4.0, 250.0, size=n)
        if stream == "inpatient_other":
            icd = np.array([vocab.icd_index[c] for c in OTHER_INPATIENT_CODES])[
                rng.integers(0, len(OTHER_INPATIENT_CODES), size=n)
            ]
        else:
            shares = np.array([s for _, s, _ in AVOIDABLE_MIX])
            cat = rng.choice(len(AVOIDABLE_MIX), size=n, p=shares / shares.sum())
            pick = rng.integers(0, 1_000_000, size=n)
            names = [name for name, _, _ in AVOIDABLE_MIX]
            # COPD counts from age 40 (PQI 05), asthma from 18 to 39 (PQI 15) or with COPD from 40.
            cat = np.where((cat == names.index("copd")) & (a < 40), names.index("asthma"), cat)
            for j, (_, _, codes) in enumerate(AVOIDABLE_MIX):
                sel = cat == j
                code_ids = np.array([vocab.icd_index[c] for c in codes])
                icd[sel] = code_ids[pick[sel] % len(codes)]
    return {
        "pi": pi,
        "date": date,
        "setting": np.full(n, vocab.setting_idx[setting], dtype=np.int64),
        "icd": icd,
        "act": act,
        "provider": np.asarray(provider, dtype=np.int64),
        "los": los,
        "cost": np.round(cost, 2),
    }


def _truth(
    *,
    cal: _Calendar,
    seed,
    persons,
    territories,
    years,
    outcome,
    effect,
    effect_growth,
    cohort_heterogeneity,
    treated,
    start_month,
    cohort_months,
    cohort_factor_values,
    at_risk,
    base_counts,
    delta_counts,
    events,
) -> dict:
    """Ground truth: interventions and the true effect per cohort and month, on the panel's scales."""
    interventions = [
        {
            "territory_id": int(t),
            "start_date": cal.date(int(start_month[t])).isoformat(),
            "start_month": int(start_month[t]) + 1,
        }
        for t in treated
    ]
    cohorts_out = []
    att = []
    per_1000 = outcome in ("avoidable_hospitalisations", "hospitalisation_rate", "emergency_visit_rate")
    scale = 1000.0 if per_1000 else 1.0
    for g, (cm, factor) in enumerate(zip(cohort_months, cohort_factor_values, strict=True)):
        units = [int(t) for t in treated if start_month[t] == cm]
        if not units:
            continue
        cohorts_out.append(
            {
                "cohort": g + 1,
                "start_date": cal.date(int(cm)).isoformat(),
                "start_month": int(cm) + 1,
                "cohort_factor": float(factor),
                "territories": units,
            }
        )
        for m in range(int(cm), cal.months):
            exposure = m - int(cm)
            with_counts = base_counts[units, m] + delta_counts[units, m]
            risk = at_risk[units, m]
            rates_delta = np.where(risk > 0, scale * delta_counts[units, m] / np.maximum(risk, 1), 0.0)
            att.append(
                {
                    "cohort_start_month": int(cm) + 1,
                    "month": m + 1,
                    "period_start": cal.date(m).isoformat(),
                    "exposure_months": exposure,
                    "relative_effect": float(max(effect * factor * (1 + effect_growth * exposure / 12), -1.0)),
                    "units": len(units),
                    "persons_at_risk": int(risk.sum()),
                    "events_without_intervention": int(base_counts[units, m].sum()),
                    "events_with_intervention": int(with_counts.sum()),
                    "att_events_per_unit": float(delta_counts[units, m].mean()),
                    "att": float(rates_delta.mean()),
                }
            )
    return {
        "generator": "tremplin.engine.generator",
        "seed": seed,
        "persons": persons,
        "territories": territories,
        "years": years,
        "start_date": cal.date(0).isoformat(),
        "end_date": (cal.date(cal.months - 1) + dt.timedelta(days=int(cal.days_in_month[-1]) - 1)).isoformat(),
        "events": events,
        "outcome": outcome,
        "outcome_scale": "per 1,000 persons at risk" if per_1000 else "per person at risk",
        "effect": effect,
        "effect_growth": effect_growth,
        "cohort_heterogeneity": cohort_heterogeneity,
        "interventions": interventions,
        "cohorts": cohorts_out,
        "att_definition": (
            "att = mean over the cohort's territories of scale * (events with - events without the "
            "intervention) / persons at risk, per calendar month (the monthly panel's outcome scale)"
        ),
        "att": att,
        "avoidable_code_list": "tremplin/engine/data/avoidable_hospitalisations_icd10.csv",
    }
