"""The payment models: documented, parameterised, frozen objects.

Each model is a frozen dataclass; its parameters carry their meaning and their source in the field metadata
(`tremplin funding models` lists them). `model.plan(population)` applies it to a population and returns a `Plan`:
what every organisation is paid, as a function of the evaluated effect `E` (a relative change of the outcome's
events in the performance year), in two independent forms:

- `plan.payments(E)`: the formulas evaluated directly, organisation by organisation (and patient by patient where
  the model works per patient): the reference, and the plain N × D evaluation of the benchmarks;
- `plan.terms()`: the same function as owner-tagged linear, hinge and step pieces of `E` (`funding.piecewise`),
  which the Monte Carlo and the break-even evaluate exactly and fast.

The payer pays exactly what the organisations receive (a negative payment is a repayment to the payer).
`MarginSharing` is not a payment model but a rule splitting a model's gains between organisations; the analyses
apply it on top of any model.

Sources are cited per parameter; where a default is a modelling choice rather than a rule, the docstring says so.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
import scipy.sparse as sp

from tremplin.funding.errors import FundingInputError, check_choice
from tremplin.funding.piecewise import Terms
from tremplin.funding.population import CONDITIONS, SETTINGS, Population
from tremplin.funding.risk import reference_index, risk_model, similar_rate

Scope = Literal["all", "65+", "diabetics", "long_term_condition"]
SCOPES: tuple[str, ...] = typing.get_args(Scope)

PEPS = ("Cahier des charges de l'expérimentation PEPS, arrêté du 19 juin 2019 (JORF), modifié par l'arrêté du "
        "10 novembre 2022 (JORF n° 0274 du 26 novembre 2022, texte n° 30)")
IPEP = ("Cahier des charges de l'expérimentation IPEP, annexe I de l'arrêté publié au JORF (articles "
        "JORFARTI000046174526 à JORFARTI000046174555 : « Calcul du montant IPEP reversé à chaque groupement », "
        "« Méthodologie de valorisation de la dimension qualité »)")
MSSP_RULE = "42 CFR part 425 (Medicare Shared Savings Program)"
BPCI = ("CMS, BPCI Advanced Target Price Specifications (Model Year 3, 2019) and Clinical Episode Reconciliation "
        "Specifications (Model Years 1 and 2, 2019)")
CHOICE = "modelling choice of Tremplin (no regulatory value)"


def param(default: Any, doc: str, source: str, *, kind: str = "float", choices: tuple | None = None,
          bounds: tuple[float | None, float | None] | None = None, sensitivity: tuple[float, float] | None = None):
    """A model parameter: default, meaning, source, and how to validate it."""
    return field(default=default, metadata={"doc": doc, "source": source, "kind": kind, "choices": choices,
                                            "bounds": bounds, "sensitivity": sensitivity})


# -------------------------------------------------------------------------------------------------------------
# Plans


@dataclass(eq=False)
class Plan:
    """A model applied to a population (see the module docstring)."""

    model: str
    n_owners: int
    _payments: Callable[[np.ndarray], np.ndarray]
    _terms: Callable[[], Terms]
    details: dict = field(default_factory=dict)
    internals: dict = field(default_factory=dict)  # arrays behind the details (caps, benchmarks...), not in the JSON
    _cached_terms: Terms | None = None

    def payments(self, effects) -> np.ndarray:
        """Payments to every organisation at each effect: array (n_organisations, len(effects))."""
        e = np.atleast_1d(np.asarray(effects, dtype=float))
        return self._payments(e)

    def terms(self) -> Terms:
        if self._cached_terms is None:
            self._cached_terms = self._terms()
        return self._cached_terms


def _scatter(owner: np.ndarray, values: np.ndarray, k: int) -> np.ndarray:
    """Sum rows of `values` (n, D) into `k` owners."""
    n = len(owner)
    if n == 0:
        return np.zeros((k, values.shape[1]))
    m = sp.csr_matrix((np.ones(n), (owner, np.arange(n))), shape=(k, n))
    return np.asarray(m @ values)


def _ffs(pop: Population, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per organisation, the performance year's amount and its affected part (lines in `mask` only)."""
    sel = pop.perf_lines if mask is None else pop.perf_lines & mask
    k = pop.n_organisations
    return (np.bincount(pop.line_org[sel], pop.line_amount[sel], minlength=k),
            np.bincount(pop.line_org[sel], pop.line_affected[sel], minlength=k))


def _linear_payments(a0: np.ndarray, a1: np.ndarray, e: np.ndarray) -> np.ndarray:
    return a0[:, None] + a1[:, None] * e[None, :]


def scope_mask(pop: Population, scope: str) -> np.ndarray:
    if scope == "all":
        return np.ones(pop.n_persons, bool)
    if scope == "65+":
        return pop.age(-1) >= 65
    if scope == "diabetics":
        return pop.conditions[:, CONDITIONS.index("diabetes")]
    return pop.long_term_condition.copy()


def _setting_mask(pop: Population, settings: tuple[str, ...]) -> np.ndarray:
    codes = [SETTINGS.index(s) for s in settings]
    return np.isin(pop.line_setting, codes)


def _per_person(pop: Population, year: int, mask: np.ndarray | None = None, values: np.ndarray | None = None):
    sel = pop.line_year == (year % len(pop.years))
    if mask is not None:
        sel &= mask
    v = pop.line_amount if values is None else values
    return np.bincount(pop.line_person[sel], v[sel], minlength=pop.n_persons)


def _national_growth(pop: Population, year_a: int, year_b: int, mask: np.ndarray | None = None) -> float:
    """Growth of the amount per person-year observed, from year index a to b, over the whole population."""
    ra = _per_person(pop, year_a, mask).sum() / max(pop.exposure[year_a].sum(), 1e-12)
    rb = _per_person(pop, year_b, mask).sum() / max(pop.exposure[year_b].sum(), 1e-12)
    return float(rb / ra - 1.0) if ra > 0 else 0.0


def _ratio(a: float, b: float, default: float = 1.0) -> float:
    """a / b, or `default` when b is zero or either is not a number (a year without spending)."""
    return float(a / b) if b and math.isfinite(a) and math.isfinite(b) and b > 0 else default


def _by_org(value, pop: Population, default: float, name: str) -> np.ndarray:
    """A scalar, or a mapping organisation id -> value (others get `default`), as one value per organisation."""
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(pop.organisations))
        if unknown:
            raise FundingInputError(f"{name}: unknown organisation(s) {', '.join(map(str, unknown[:5]))}.")
        index = {o: i for i, o in enumerate(pop.organisations)}
        out = np.full(pop.n_organisations, float(default))
        for o, v in value.items():
            out[index[o]] = float(v)
        return out
    return np.full(pop.n_organisations, float(value))


# -------------------------------------------------------------------------------------------------------------
# Models


@dataclass(frozen=True)
class Model:
    """Base of the payment models: parameters as dataclass fields with metadata."""

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""

    def __post_init__(self) -> None:
        validate_parameters(self)

    def parameters(self) -> dict[str, Any]:
        """Every parameter value used (defaults included), JSON-ready."""
        out = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            out[f.name] = list(v) if isinstance(v, tuple) else v
        return out

    @classmethod
    def describe(cls) -> dict[str, Any]:
        return describe(cls)

    def plan(self, pop: Population) -> Plan:  # pragma: no cover - every model overrides it
        raise NotImplementedError


def describe(cls) -> dict[str, Any]:
    """Name, title, description and parameters (default, meaning, source, allowed values) of a model class."""
    return {
        "name": cls.name,
        "title": cls.title,
        "description": " ".join((cls.__doc__ or "").split()),
        "parameters": [
            {"name": f.name, "default": list(f.default) if isinstance(f.default, tuple) else f.default,
             "description": f.metadata["doc"], "source": f.metadata["source"],
             **({"allowed": list(f.metadata["choices"])} if f.metadata.get("choices") else {}),
             **({"sensitivity_range": list(f.metadata["sensitivity"])} if f.metadata.get("sensitivity") else {})}
            for f in dataclasses.fields(cls)
        ],
    }


def validate_parameters(model: Model) -> None:
    """Check every parameter of a model against its metadata (kinds, allowed values, bounds)."""
    for f in dataclasses.fields(model):
        meta = f.metadata
        v = getattr(model, f.name)
        kind = meta.get("kind", "float")
        label = f"{model.name} parameter {f.name}"
        if meta.get("choices"):
            if kind == "str_list":
                for item in v:
                    check_choice(f"{label} value", item, tuple(meta["choices"]))
            else:
                check_choice(label, v, tuple(meta["choices"]))
        if kind in ("float", "int") or (kind == "float_or_map" and not isinstance(v, dict)):
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise FundingInputError(f"{label} must be a finite number (got {v!r}).")
            lo, hi = meta.get("bounds") or (None, None)
            if (lo is not None and v < lo) or (hi is not None and v > hi):
                raise FundingInputError(f"{label} must be between {lo} and {hi} (got {v!r}).")
        if kind == "float_or_map" and isinstance(v, dict):
            lo, hi = meta.get("bounds") or (None, None)
            for key, x in v.items():
                if not isinstance(x, int | float) or not math.isfinite(x) or (lo is not None and x < lo) or (
                        hi is not None and x > hi):
                    raise FundingInputError(f"{label}[{key!r}] must be a number between {lo} and {hi} (got {x!r}).")
        if kind == "quality" and v is not None and not isinstance(v, dict) and (
                isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v <= 1):
            raise FundingInputError(f"{label} must be null, a number in [0, 1] or a mapping (got {v!r}).")
        if kind == "str_list" and not all(isinstance(x, str) for x in v):
            raise FundingInputError(f"{label} must be a list of strings (got {v!r}).")
        if kind == "float_list" and not all(isinstance(x, int | float) and math.isfinite(x) for x in v):
            raise FundingInputError(f"{label} must be a list of numbers (got {v!r}).")
        if kind == "bool" and not isinstance(v, bool):
            raise FundingInputError(f"{label} must be true or false (got {v!r}).")
        if kind == "optional_float" and v is not None:
            lo, hi = meta.get("bounds") or (None, None)
            if not isinstance(v, int | float) or not math.isfinite(v) or (lo is not None and v < lo) or (
                    hi is not None and v > hi):
                raise FundingInputError(f"{label} must be null or a number between {lo} and {hi} (got {v!r}).")


@dataclass(frozen=True)
class FeeForService(Model):
    """Fee-for-service (the baseline): every act and stay paid at its tariff.

    Payment to an organisation = Σ volumes × tariffs of its acts and stays. Tariffs come from the care data's
    event costs: the mean cost of each act type (setting, act code) and stay type (setting, ICD-10 category) in
    each year (`funding.population`). Under the effect, the outcome's events change in number by `E`, so their
    amount by `E` times their tariffed amount. The baseline of every comparison is this model at `E = 0`.
    """

    name: ClassVar[str] = "ffs"
    title: ClassVar[str] = "Fee-for-service"

    tariff_scale: float = param(
        1.0, "Multiplier on every tariff (1.0: the tariffs of the data; 1.02: a 2 % tariff increase).",
        "tariffs = mean event cost by act or stay type and year in the care data (`docs/funding.md`)",
        bounds=(0.0, 10.0), sensitivity=(0.98, 1.02))

    def plan(self, pop: Population) -> Plan:
        a0, a1 = _ffs(pop)
        s = self.tariff_scale
        k = pop.n_organisations
        return Plan(self.name, k, lambda e: s * _linear_payments(a0, a1, e),
                    lambda: Terms(k).linear(np.arange(k), s * a0, s * a1))


@dataclass(frozen=True)
class Capitation(Model):
    """Team capitation (PEPS-like): a forfait per registered patient replaces the team's fee-for-service.

    For every patient registered with a primary-care team (declared GP) and in scope:
    forfait = mean yearly spending of similar patients on the covered care (age band, sex, long-term condition,
    low-income cover, number of conditions; reference year, revalued) × loyalty factor (share of the patient's
    covered visits made in the team in the reference year) × local factor × share of the year observed.
    Team payment = min(Σ forfaits × (1 + quality bonus × quality score), (1 + cap) × the team's fee-for-service
    income from the same patients' covered care in the reference year). The team's covered acts for those patients
    are no longer paid per act; everything else stays fee-for-service. The forfait does not depend on the effect.
    """

    name: ClassVar[str] = "capitation"
    title: ClassVar[str] = "Team capitation (PEPS-like)"

    scope: str = param("all", "Patients covered: all registered patients, those aged 65+, diabetics, or those "
                       "with a long-term condition.", f"{PEPS}: three variants (whole patientèle, 65+, diabetics)",
                       kind="str", choices=SCOPES)
    settings: tuple[str, ...] = param(("outpatient", "home"), "Settings whose acts the forfait replaces.",
                                      f"{PEPS}: the forfait replaces GP and nurse acts", kind="str_list",
                                      choices=("outpatient", "home", "pharmacy", "emergency", "inpatient"))
    quality_bonus: float = param(0.05, "Bonus on the forfaits at full quality (0.05 = +5 %).",
                                 f"default set by Tremplin's issue 14; {PEPS} weights the forfait by quality",
                                 bounds=(0.0, 1.0), sensitivity=(0.0, 0.10))
    quality: float | dict = param(1.0, "Quality score in [0, 1] (one value, or per organisation id).", CHOICE,
                                  kind="float_or_map", bounds=(0.0, 1.0))
    cap: float = param(0.20, "Cap over the team's previous fee-for-service income (0.20 = +20 %).",
                       f"{PEPS}: plafonnement par rapport à la rémunération antérieure (arrêté du 10 novembre 2022)",
                       bounds=(0.0, 10.0), sensitivity=(0.10, 0.30))
    local_factor: float | dict = param(1.0, "Local factor (one value, or per territory id).",
                                       f"{PEPS} adjusts the forfait to the territory; 1.0 is a {CHOICE}",
                                       kind="float_or_map", bounds=(0.0, 10.0), sensitivity=(0.95, 1.05))
    revaluation: float | None = param(
        None, "Revaluation of the reference year's spending to the performance year (null: the observed national "
        "growth of the covered care per person-year over the year before the reference year).", CHOICE,
        kind="optional_float", bounds=(-0.5, 1.0))
    loyalty: bool = param(True, "Apply the loyalty factor.", f"{PEPS}: taux de fidélité", kind="bool")

    def plan(self, pop: Population) -> Plan:
        k = pop.n_organisations
        ref = reference_index(pop)
        in_setting = _setting_mask(pop, self.settings)
        registered = pop.observed & (pop.team >= 0) & scope_mask(pop, self.scope)
        team_of_line = pop.team[pop.line_person]
        covered = in_setting & registered[pop.line_person] & (pop.line_org == team_of_line)
        rev = self.revaluation
        if rev is None:
            rev = _national_growth(pop, ref - 1, ref, in_setting) if ref >= 1 else 0.0
        rate = similar_rate(pop, _per_person(pop, ref, in_setting), reference=ref)
        ref_lines = pop.line_year == ref
        if self.loyalty:
            visits_all = np.bincount(pop.line_person[ref_lines & in_setting],
                                     pop.line_events[ref_lines & in_setting], minlength=pop.n_persons)
            in_team = ref_lines & in_setting & (pop.line_org == team_of_line)
            visits_team = np.bincount(pop.line_person[in_team], pop.line_events[in_team], minlength=pop.n_persons)
            loyalty = np.where(visits_all > 0, visits_team / np.maximum(visits_all, 1), 1.0)
        else:
            loyalty = np.ones(pop.n_persons)
        if isinstance(self.local_factor, dict):
            local = np.array([float(self.local_factor.get(str(t), self.local_factor.get(t, 1.0)))
                              for t in pop.territory])
        else:
            local = np.full(pop.n_persons, float(self.local_factor))
        forfait = np.where(registered, rate * (1 + rev) * loyalty * local * pop.exposure[-1], 0.0)
        team = np.where(registered, pop.team, 0)
        forfaits = np.bincount(team[registered], forfait[registered], minlength=k)
        quality = _by_org(self.quality, pop, 1.0, "quality")
        gross = forfaits * (1 + self.quality_bonus * quality)
        prev_mask = ref_lines & in_setting & registered[pop.line_person] & (pop.line_org == team_of_line)
        previous = np.bincount(pop.line_org[prev_mask], pop.line_amount[prev_mask], minlength=k)
        limit = np.where(previous > 0, (1 + self.cap) * previous, np.inf)
        capitation = np.minimum(gross, limit)
        a0, a1 = _ffs(pop, ~covered)
        details = {
            "registered_patients": int(registered.sum()),
            "revaluation": rev,
            "mean_loyalty": float(loyalty[registered].mean()) if registered.any() else None,
            "forfaits": float(forfaits.sum()),
            "capitation_paid": float(capitation.sum()),
            "teams": int((forfaits > 0).sum()),
            "teams_capped": int((gross > limit).sum()),
            "replaced_fee_for_service": float(_ffs(pop, covered)[0].sum()),
        }
        return Plan(self.name, k, lambda e: _linear_payments(a0 + capitation, a1, e),
                    lambda: Terms(k).linear(np.arange(k), a0 + capitation, a1), details,
                    {"capitation": capitation, "limit": limit, "gross": gross, "ffs": (a0, a1)})


# -- IPEP -------------------------------------------------------------------------------------------------------

QUALITY_INDICATORS = ("diabetic_treated", "elderly_followed", "emergency_rate")


def _indicator_values(pop: Population, groups: np.ndarray, n_groups: int, members: np.ndarray) -> dict[str, tuple]:
    """Numerator and denominator of each quality indicator per group (performance year, no effect)."""
    perf = pop.perf_lines
    out_mask = perf & (pop.line_setting == SETTINGS.index("outpatient"))
    er_mask = perf & (pop.line_setting == SETTINGS.index("emergency"))
    outpatient = np.bincount(pop.line_person[out_mask], pop.line_events[out_mask], minlength=pop.n_persons)
    emergency = np.bincount(pop.line_person[er_mask], pop.line_events[er_mask], minlength=pop.n_persons)
    diabetic = pop.conditions[:, CONDITIONS.index("diabetes")] & members
    elderly = (pop.age(-1) >= 65) & members
    g = np.where(members, groups, 0)
    res = {}
    if pop.antidiabetic is not None:
        res["diabetic_treated"] = (np.bincount(g[diabetic], pop.antidiabetic[diabetic], minlength=n_groups),
                                   np.bincount(g[diabetic], minlength=n_groups).astype(float), +1)
    res["elderly_followed"] = (np.bincount(g[elderly], outpatient[elderly] >= 2, minlength=n_groups),
                               np.bincount(g[elderly], minlength=n_groups).astype(float), +1)
    res["emergency_rate"] = (np.bincount(g[members], emergency[members], minlength=n_groups),
                             np.bincount(g[members], pop.exposure[-1][members], minlength=n_groups), -1)
    return res


def ipep_quality(pop: Population, *, target_decile: int = 8, intermediate_decile: int = 3) -> tuple[np.ndarray, dict]:
    """Quality score in [0, 1] of every organisation's patientèle, from indicators with decile targets.

    Each indicator is scored against the distribution of its values over the territories: full points at the
    target (8th decile; 2nd for an indicator expected to fall), none at the intermediate objective (3rd decile;
    7th for a falling one), linear in between; the score is the mean over the indicators the group has patients
    for (0 without any). Indicators (performance year): share of diabetic patients with an antidiabetic
    dispensing (ATC A10), share of patients aged 65+ with two or more GP visits, emergency visits per person-year
    (falling). Source: IPEP cahier des charges, « Méthodologie de notation des indicateurs » (target at the 8th
    decile of the territories' distribution, intermediate objective at the 3rd); the indicators are Tremplin's,
    computable from the care data.
    """
    k = pop.n_organisations
    members = pop.observed & (pop.team >= 0)
    group_values = _indicator_values(pop, pop.team, k, members)
    territories, t_index = np.unique(pop.territory, return_inverse=True)
    terr_values = _indicator_values(pop, t_index, len(territories), pop.observed)
    points = []
    deciles = {}
    for name, (num, den, direction) in group_values.items():
        t_num, t_den, _ = terr_values[name]
        ok_t = t_den > 0
        if not ok_t.any():
            continue
        dist = t_num[ok_t] / t_den[ok_t]
        with np.errstate(divide="ignore", invalid="ignore"):
            value = np.where(den > 0, num / np.maximum(den, 1e-300), np.nan)
        if direction > 0:
            target, floor = np.quantile(dist, target_decile / 10), np.quantile(dist, intermediate_decile / 10)
            spread = target - floor
            pts = np.where(value >= target, 1.0, np.clip((value - floor) / spread, 0, 1) if spread > 0 else 0.0)
        else:
            target = np.quantile(dist, (10 - target_decile) / 10)
            floor = np.quantile(dist, (10 - intermediate_decile) / 10)
            spread = floor - target
            pts = np.where(value <= target, 1.0, np.clip((floor - value) / spread, 0, 1) if spread > 0 else 0.0)
        points.append(np.where(np.isnan(value), np.nan, pts))
        deciles[name] = {"target": float(target), "intermediate": float(floor)}
    if not points:
        return np.zeros(k), deciles
    stacked = np.vstack(points)
    counted = (~np.isnan(stacked)).sum(axis=0)
    score = np.where(counted > 0, np.nansum(stacked, axis=0) / np.maximum(counted, 1), 0.0)
    return score, deciles


@dataclass(frozen=True)
class SharedSavingsIPEP(Model):
    """Collective shared savings (IPEP-like) on a primary-care group's patientèle, on top of fee-for-service.

    Per patient of the group (per person-year): C_share × (C_gap × max(0, expected − observed) + C_growth ×
    max(0, reference growth − observed growth)), each negative term floored at zero separately; the group
    receives that amount times its patients, gated by its quality score. Expected = risk score × the population's
    mean spending per person-year × share of the year observed; observed = the patients' spending with the effect;
    reference growth = the population's spending growth per person-year from the reference year, applied to the
    patients' reference-year spending per year observed (observed growth: their spending with the effect minus
    that reference; patients without a reference year count in the gap term only).
    With `level="group"` (default, as the cahier des charges) the floors apply to the group's totals; with
    `level="patient"` to every patient's terms, a bonus that a group's overall overspending does not cancel.
    """

    name: ClassVar[str] = "ipep"
    title: ClassVar[str] = "Collective shared savings (IPEP-like)"

    c_share: float = param(0.5, "Share of the savings paid to the group (C_partage).", f"{IPEP}: C_partage = 50 %",
                           bounds=(0.0, 1.0), sensitivity=(0.3, 0.7))
    c_gap: float = param(1 / 3, "Weight of the gap to expected spending (C_écart).", f"{IPEP}: C_écart = 1/3",
                         bounds=(0.0, 1.0), sensitivity=(0.2, 0.5))
    c_growth: float = param(2 / 3, "Weight of the growth difference (C_évolution).", f"{IPEP}: C_évolution = 2/3",
                            bounds=(0.0, 1.0), sensitivity=(0.5, 0.8))
    level: str = param("group", "Where the negative terms are floored: on the group's totals or per patient.",
                       f"{IPEP}: « la valeur négative est ramenée à zéro » on the per-patient amount of the group",
                       kind="str", choices=("group", "patient"))
    reference_growth: float | None = param(
        None, "Reference spending growth per person-year (null: the population's observed growth from the "
        "reference year to the performance year, without the effect).", f"{IPEP}: évolution nationale",
        kind="optional_float", bounds=(-0.5, 1.0), sensitivity=(0.0, 0.04))
    quality: float | dict | None = param(
        None, "Quality score in [0, 1] (null: computed from the data with decile targets; or one value, or per "
        "organisation id).", f"{IPEP}: score qualité", kind="quality")
    gating: str = param("proportional", "How quality gates the bonus: proportional (bonus × score), threshold "
                        "(all or nothing at quality_threshold) or none.",
                        f"{IPEP} conditions the intéressement on the quality score; the exact rule is a {CHOICE}",
                        kind="str", choices=("proportional", "threshold", "none"))
    quality_threshold: float = param(0.5, "Minimum score with gating='threshold'.", CHOICE, bounds=(0.0, 1.0))

    def plan(self, pop: Population) -> Plan:
        k = pop.n_organisations
        ref = reference_index(pop)
        members = pop.observed & (pop.team >= 0)
        idx = np.flatnonzero(members)
        team = pop.team[idx]
        rate = pop.national_rate(-1)
        expected = risk_model(pop).scores(pop, -1)[idx] * rate * pop.exposure[-1][idx]
        obs0 = pop.spending(-1)[idx]
        alpha = pop.affected()[idx]
        growth = self.reference_growth
        if growth is None:
            growth = _ratio(pop.national_rate(-1), pop.national_rate(ref)) - 1 if ref != len(pop.years) - 1 else 0.0
        hist = pop.exposure[ref][idx] > 0 if ref != len(pop.years) - 1 else np.zeros(len(idx), bool)
        prev = pop.spending(ref)[idx]
        exp_ref = pop.exposure[ref][idx]
        if self.quality is None:
            quality, deciles = ipep_quality(pop)
        else:
            quality, deciles = _by_org(self.quality, pop, 1.0, "quality"), None
        gate = {"proportional": quality, "threshold": (quality >= self.quality_threshold).astype(float),
                "none": np.ones(k)}[self.gating]
        a0, a1 = _ffs(pop)
        cs, cg, cv = self.c_share, self.c_gap, self.c_growth
        # X = expected - observed(E), Y = growth reference - observed(E), linear in E: p + q E; the growth
        # reference of a patient: reference-year spending per year observed x (1 + growth) x this year's exposure
        with np.errstate(divide="ignore", invalid="ignore"):
            reference = np.where(hist, pop.exposure[-1][idx] * prev / np.maximum(exp_ref, 1e-300) * (1 + growth), 0.0)
        if self.level == "group":
            x_p = np.bincount(team, expected - obs0, minlength=k)
            x_q = -np.bincount(team, alpha, minlength=k)
            y_p = np.bincount(team[hist], reference[hist] - obs0[hist], minlength=k)
            y_q = -np.bincount(team[hist], alpha[hist], minlength=k)
            y_on = np.bincount(team[hist], minlength=k) > 0
            owner = np.arange(k)
        else:
            x_p, x_q = expected - obs0, -alpha
            y_p, y_q, y_on = reference - obs0, -alpha, hist
            owner = team
        w = gate[owner] * cs

        def payments(e):
            x = np.maximum(0.0, x_p[:, None] + x_q[:, None] * e[None, :])
            y = np.where(y_on[:, None], np.maximum(0.0, y_p[:, None] + y_q[:, None] * e[None, :]), 0.0)
            bonus = w[:, None] * (cg * x + cv * y)
            return _linear_payments(a0, a1, e) + _scatter(owner, bonus, k)

        def terms():
            t = Terms(k).linear(np.arange(k), a0, a1)
            t.relu(owner, x_p, x_q, w * cg)
            t.relu(owner[y_on], y_p[y_on], y_q[y_on], (w * cv)[y_on])
            return t

        details = {"patients": int(len(idx)), "reference_growth": growth, "level": self.level,
                   "mean_quality": float(quality[np.unique(team)].mean()) if len(idx) else None,
                   "quality_targets": deciles}
        return Plan(self.name, k, payments, terms, details, {"ffs": (a0, a1)})


# -- MSSP -------------------------------------------------------------------------------------------------------

MSR_TABLE: tuple[tuple[int, int | None, float, float], ...] = (
    (5_000, 5_999, 0.039, 0.036),
    (6_000, 6_999, 0.036, 0.034),
    (7_000, 7_999, 0.034, 0.032),
    (8_000, 8_999, 0.032, 0.031),
    (9_000, 9_999, 0.031, 0.030),
    (10_000, 14_999, 0.030, 0.027),
    (15_000, 19_999, 0.027, 0.025),
    (20_000, 49_999, 0.025, 0.022),
    (50_000, 59_999, 0.022, 0.020),
    (60_000, None, 0.020, 0.020),
)
"""Minimum savings rate of the one-sided model by number of assigned beneficiaries: (first, last, MSR at the low
end, MSR at the high end of the band). 42 CFR § 425.604(b) (table of the final rule, 76 FR 67802, 2 November 2011);
within a band the MSR is interpolated linearly (proposed rule CMS-1345-P, 76 FR 19528, 7 April 2011, Table 6: "an
ACO with 7,500 beneficiaries would be assigned an MSR of 3.3 percent"), and it never falls below 2 % from 60,000."""


def minimum_savings_rate(beneficiaries: float) -> float:
    """MSR for a number of assigned beneficiaries (`MSR_TABLE`). Below 5,000 — under the programme's minimum
    (42 CFR § 425.110) — the first band's 3.9 % is used; CMS now extends the scale below 5,000 with higher rates."""
    n = float(beneficiaries)
    for first, last, low, high in MSR_TABLE:
        if last is None:
            return low
        if n <= last:  # linear from the band's first to its last beneficiary count (below 5,000: the first value)
            return low + (high - low) * min(max((n - first) / (last - first), 0.0), 1.0)
    raise AssertionError("unreachable: the last band is open")  # pragma: no cover


def _gated_min_direct(s, t, r, cap):
    """[S ≥ t] · min(r·S, cap), elementwise (t ≥ 0, cap ≥ 0)."""
    return np.where(s >= t, np.minimum(r * s, cap), 0.0)


def _gated_min_terms(terms: Terms, owner, p, q, t, r, cap, scale) -> None:
    """Add scale · [S ≥ t] · min(r·S, cap) with S = p + q·E, as hinges and steps."""
    p, q, t, r, cap, scale = np.broadcast_arrays(*(np.atleast_1d(np.asarray(x, float)) for x in (p, q, t, r, cap, scale)))
    owner = np.broadcast_to(np.asarray(owner), p.shape)
    wide = cap >= r * t
    # cap ≥ r·t: r·(S − t)⁺ + r·t·[S ≥ t] − (r·S − cap)⁺ ; otherwise cap·[S ≥ t]
    terms.relu(owner[wide], (p - t)[wide], q[wide], (r * scale)[wide])
    terms.step(owner[wide], (p - t)[wide], q[wide], (r * t * scale)[wide])
    terms.relu(owner[wide], (r * p - cap)[wide], (r * q)[wide], -scale[wide])
    terms.step(owner[~wide], (p - t)[~wide], q[~wide], (cap * scale)[~wide])


@dataclass(frozen=True)
class SharedSavingsMSSP(Model):
    """Shared savings against a benchmark (MSSP-like), on top of fee-for-service.

    Each ACO (a primary-care team and its registered patients, or all teams together) gets a benchmark: its
    patients' spending per person-year in the three baseline years, each trended to the performance year by the
    population's growth and risk-adjusted to the performance year's mean risk score, weighted 10/30/60, times the
    person-years of the performance year. Savings S = benchmark B − actual spending (with the effect). One-sided
    track: if S ≥ MSR × B (MSR sliding with the number of assigned beneficiaries), the ACO receives
    min(sharing rate × quality × S, cap × B) (first-dollar sharing). Two-sided track: the same with 75 % and 20 %;
    if S ≤ −MLR × B it repays min(loss rate × (−S), loss cap × B), loss rate = 1 − 75 % × quality kept within
    40–75 %. An ACO below the quality standard gets no shared savings (and shares losses at 75 %).
    """

    name: ClassVar[str] = "mssp"
    title: ClassVar[str] = "Shared savings with a benchmark (MSSP-like)"

    track: str = param("one_sided", "one_sided (savings only) or two_sided (savings and losses).",
                       f"{MSSP_RULE}: § 425.604 (one-sided model) and § 425.610 (two-sided model)", kind="str",
                       choices=("one_sided", "two_sided"))
    sharing_rate: float | None = param(None, "Share of savings (null: 0.50 one-sided, 0.75 two-sided).",
                                       f"{MSSP_RULE}: § 425.604(d) (50 %), § 425.610(d) (75 %)",
                                       kind="optional_float", bounds=(0.0, 1.0), sensitivity=(0.4, 0.75))
    performance_payment_limit: float | None = param(
        None, "Cap of the shared savings as a share of the benchmark (null: 0.10 one-sided, 0.20 two-sided).",
        f"{MSSP_RULE}: § 425.604(e) (10 %), § 425.610(e) (20 %)", kind="optional_float", bounds=(0.0, 1.0))
    minimum_savings_rate: float | None = param(
        None, "MSR (and MLR, two-sided) as a share of the benchmark (null: the sliding scale by assigned "
        "beneficiaries).", f"{MSSP_RULE}: § 425.604(b), see MSR_TABLE", kind="optional_float", bounds=(0.0, 0.5),
        sensitivity=(0.0, 0.039))
    loss_rate_min: float = param(0.40, "Smallest shared loss rate (two-sided).", f"{MSSP_RULE}: § 425.610(f)",
                                 bounds=(0.0, 1.0))
    loss_rate_max: float = param(0.75, "Largest shared loss rate (two-sided).", f"{MSSP_RULE}: § 425.610(f)",
                                 bounds=(0.0, 1.0))
    loss_limit: float = param(0.15, "Cap of the shared losses as a share of the benchmark (two-sided).",
                              f"{MSSP_RULE}: § 425.610(f) (15 % of the benchmark)", bounds=(0.0, 1.0))
    benchmark_weights: tuple[float, ...] = param((0.1, 0.3, 0.6), "Weights of baseline years 1, 2, 3.",
                                                 f"{MSSP_RULE}: § 425.602(a) (first agreement period: 10/30/60 %)",
                                                 kind="float_list")
    quality: float | dict = param(1.0, "Quality score in [0, 1] (one value, or per organisation id).", CHOICE,
                                  kind="float_or_map", bounds=(0.0, 1.0))
    quality_standard: float = param(0.4, "Minimum quality score to share savings (the quality gate).",
                                    f"{MSSP_RULE}: § 425.512 quality performance standard (30th-40th percentile); "
                                    f"0.4 on our 0-1 scale is a {CHOICE}", bounds=(0.0, 1.0))
    aco: str = param("team", "ACO: each primary-care team with its registered patients, or all of them as one "
                     "ACO (shared savings split between teams pro rata of patients).", CHOICE, kind="str",
                     choices=("team", "all"))

    def rates(self) -> tuple[float, float]:
        one = self.track == "one_sided"
        r = self.sharing_rate if self.sharing_rate is not None else (0.5 if one else 0.75)
        cap = self.performance_payment_limit if self.performance_payment_limit is not None else (0.10 if one else 0.20)
        return r, cap

    def plan(self, pop: Population) -> Plan:
        if len(self.benchmark_weights) != 3 or any(w < 0 for w in self.benchmark_weights) or sum(
                self.benchmark_weights) <= 0:
            raise FundingInputError("mssp parameter benchmark_weights must be three non-negative weights.")
        k = pop.n_organisations
        members = pop.observed & (pop.team >= 0)
        if self.aco == "team":
            aco = np.where(members, pop.team, -1)
            n_aco = k
            payee = np.arange(k)[:, None]  # ACO a pays organisation a
            payee_share = np.ones((k, 1))
        else:
            aco = np.where(members, 0, -1)
            n_aco = 1
            counts = np.bincount(pop.team[members], minlength=k).astype(float)
            teams = np.flatnonzero(counts)
            payee = teams[None, :]
            payee_share = (counts[teams] / counts.sum())[None, :] if counts.sum() else np.zeros((1, len(teams)))
        y_perf = len(pop.years) - 1
        risk = risk_model(pop)
        baseline = [y_perf - 3 + j for j in range(3)]
        weights, per_year = [], []
        nat_perf = pop.national_rate(-1)
        r_perf_num = np.zeros(n_aco)
        sel = aco >= 0
        risk_perf = risk.scores(pop, -1)
        r_perf_num = np.bincount(aco[sel], (risk_perf * pop.exposure[-1])[sel], minlength=n_aco)
        py_perf = np.bincount(aco[sel], pop.exposure[-1][sel], minlength=n_aco)
        with np.errstate(divide="ignore", invalid="ignore"):
            r_perf = r_perf_num / py_perf
        for w, y in zip(self.benchmark_weights, baseline, strict=True):
            if y < 0:
                continue
            obs_y = sel & (pop.exposure[y] > 0)
            py = np.bincount(aco[obs_y], pop.exposure[y][obs_y], minlength=n_aco)
            amount = np.bincount(aco[obs_y], pop.spending(y)[obs_y], minlength=n_aco)
            r_y = np.bincount(aco[obs_y], (risk.scores(pop, y) * pop.exposure[y])[obs_y], minlength=n_aco)
            with np.errstate(divide="ignore", invalid="ignore"):
                trend = _ratio(nat_perf, pop.national_rate(y), default=np.nan)
                pc = np.where(py > 0, amount / py * trend * (r_perf / (r_y / py)), np.nan)
            weights.append(w)
            per_year.append(pc)
        if not per_year:
            raise FundingInputError("mssp needs at least one baseline year before the performance year.")
        wmat = np.array(weights)[:, None] * ~np.isnan(np.array(per_year))
        with np.errstate(divide="ignore", invalid="ignore"):
            bench_pc = np.nansum(wmat * np.nan_to_num(np.array(per_year)), axis=0) / wmat.sum(axis=0)
        benchmark = np.where(np.isfinite(bench_pc), bench_pc * py_perf, 0.0)
        actual0 = np.bincount(aco[sel], pop.spending(-1)[sel], minlength=n_aco)
        alpha = np.bincount(aco[sel], pop.affected()[sel], minlength=n_aco)
        beneficiaries = np.bincount(aco[sel], minlength=n_aco)
        active = (benchmark > 0) & (beneficiaries > 0)
        if self.minimum_savings_rate is None:
            msr = np.array([minimum_savings_rate(n) for n in beneficiaries])
        else:
            msr = np.full(n_aco, float(self.minimum_savings_rate))
        if self.aco == "team":
            quality = _by_org(self.quality, pop, 1.0, "quality")
        elif isinstance(self.quality, dict):
            raise FundingInputError("mssp with aco='all' is one ACO: give quality as one number.")
        else:
            quality = np.full(1, float(self.quality))
        passed = quality >= self.quality_standard
        r, cap = self.rates()
        share_rate = np.where(passed, r * quality, 0.0)
        two = self.track == "two_sided"
        # 42 CFR § 425.610(f): shared loss rate = 1 − the final sharing rate (75 % × quality), within 40–75 %
        loss_rate = np.clip(1 - 0.75 * np.where(passed, quality, 0.0), self.loss_rate_min, self.loss_rate_max)
        p_s, q_s = benchmark - actual0, -alpha  # savings S = p + q E
        a0, a1 = _ffs(pop)

        def payments(e):
            s = p_s[:, None] + q_s[:, None] * e[None, :]
            pay = _gated_min_direct(s, (msr * benchmark)[:, None], share_rate[:, None], (cap * benchmark)[:, None])
            if two:
                pay = pay - _gated_min_direct(-s, (msr * benchmark)[:, None], loss_rate[:, None],
                                              (self.loss_limit * benchmark)[:, None])
            pay = np.where(active[:, None], pay, 0.0)
            out = _linear_payments(a0, a1, e)
            if self.aco == "team":
                return out + pay  # ACO a is organisation a
            out[payee[0]] += payee_share[0][:, None] * pay[0][None, :]
            return out

        def terms():
            t = Terms(k).linear(np.arange(k), a0, a1)
            for a in np.flatnonzero(active):
                owners = payee[a % payee.shape[0]]
                shares = payee_share[a % payee.shape[0]]
                _gated_min_terms(t, owners, p_s[a], q_s[a], msr[a] * benchmark[a], share_rate[a], cap * benchmark[a],
                                 shares)
                if two:
                    _gated_min_terms(t, owners, -p_s[a], -q_s[a], msr[a] * benchmark[a], loss_rate[a],
                                     self.loss_limit * benchmark[a], -shares)
            return t

        details = {
            "acos": int(active.sum()),
            "sharing_rate": r,
            "performance_payment_limit": cap,
            "benchmark": float(benchmark[active].sum()),
            "actual_without_effect": float(actual0[active].sum()),
            "assigned_beneficiaries": int(beneficiaries[active].sum()),
            "minimum_savings_rate": {"min": float(msr[active].min()), "max": float(msr[active].max())}
            if active.any() else None,
        }
        internals = {"benchmark": benchmark, "active": active, "ffs": (a0, a1), "payee": payee,
                     "payee_share": payee_share}
        return Plan(self.name, k, payments, terms, details, internals)


# -- Bundles ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BundledEpisodes(Model):
    """Bundled episodes (EDS / BPCI-like): a target price per episode, reconciled against actual spending.

    Episode = an anchor stay and every event of the patient until `window_days` after discharge (built when the
    data are loaded; default 90 days). Target price = risk-adjusted benchmark × (1 − discount): the benchmark is
    the baseline periods' spending per episode and per unit of risk score in the anchor's category (ICD-10
    category of the stay), trended to the performance year. Each participant (the anchor stay's organisation) is
    paid fee-for-service, then the reconciliation Σ target − Σ actual, capped at +stop_gain × Σ target and
    −stop_loss × Σ target, and adjusted for quality: a positive amount is reduced by up to `quality_adjustment`
    when quality falls short, a negative one reduced by up to the same share when quality is good.
    Under the effect (first order in E): an episode anchored by an affected stay happens with weight 1 + E (its
    target and its actual scale together), and affected events inside other episodes change their actual by E.
    """

    name: ClassVar[str] = "bundle"
    title: ClassVar[str] = "Bundled episodes (EDS / BPCI-like)"

    window_days: int = param(90, "Days after discharge in an episode (set when the data are loaded).",
                             f"{BPCI}: 90-day post-anchor period", kind="int", bounds=(1, 365))
    discount: float = param(0.03, "Discount on the benchmark (0.03 = 3 %).", f"{BPCI}: CMS discount of 3 %",
                            bounds=(0.0, 0.5), sensitivity=(0.0, 0.06))
    stop_loss: float = param(0.20, "Largest repayment as a share of the participant's total target.",
                             f"{BPCI}: stop-loss limit of 20 %", bounds=(0.0, 1.0), sensitivity=(0.10, 0.30))
    stop_gain: float = param(0.20, "Largest reconciliation payment as a share of the participant's total target.",
                             f"{BPCI}: stop-gain limit of 20 %", bounds=(0.0, 1.0), sensitivity=(0.10, 0.30))
    quality_adjustment: float = param(0.10, "Largest quality adjustment of the reconciliation amount.",
                                      f"{BPCI}: Composite Quality Score adjustment of up to 10 %", bounds=(0.0, 1.0))
    quality: float | dict = param(1.0, "Quality score in [0, 1] (one value, or per organisation id).", CHOICE,
                                  kind="float_or_map", bounds=(0.0, 1.0))
    categories: tuple[str, ...] = param((), "ICD-10 prefixes of the anchor stays in the bundle (empty: every stay).",
                                        CHOICE, kind="str_list")
    min_baseline_episodes: int = param(5, "Fewest baseline episodes for a category to get a target price (else its "
                                       "episodes stay fee-for-service).", CHOICE, kind="int", bounds=(1, None))

    def plan(self, pop: Population) -> Plan:
        k = pop.n_organisations
        a0, a1 = _ffs(pop)
        ep = pop.episodes
        if ep is not None and ep.window_days != self.window_days:
            raise FundingInputError(
                f"bundle window_days {self.window_days} differs from the episodes built when the data were loaded "
                f"({ep.window_days} days); load the population with episode_window_days={self.window_days}.")
        empty = ep is None or len(ep) == 0
        if not empty:
            risk = risk_model(pop)
            scores = np.vstack([risk.scores(pop, y) for y in range(len(pop.years))])
            r_e = scores[ep.year, ep.person]
            nat = np.array([pop.national_rate(y) for y in range(len(pop.years))])
            trend = np.array([_ratio(pop.national_rate(-1), x) for x in nat])[ep.year]
            in_bundle = np.ones(len(ep.categories), bool) if not self.categories else np.array(
                [any(c.startswith(p) for p in self.categories) for c in ep.categories])
            base = ep.period >= 1
            n_cat = len(ep.categories)
            base_count = np.bincount(ep.category[base], minlength=n_cat)
            base_amount = np.bincount(ep.category[base], (ep.amount * trend)[base], minlength=n_cat)
            base_risk = np.bincount(ep.category[base], r_e[base], minlength=n_cat)
            priced = in_bundle & (base_count >= self.min_baseline_episodes) & (base_risk > 0)
            with np.errstate(divide="ignore", invalid="ignore"):
                per_risk = np.where(priced, base_amount / base_risk, 0.0)
            perf = (ep.period == 0) & priced[ep.category]
            target = per_risk[ep.category] * r_e * (1 - self.discount)
            z = ep.anchor_affected.astype(float)
            org = ep.organisation
            # T(E) = t0 + t1 E ; R(E) = T − A = r0 + r1 E
            t0 = np.bincount(org[perf], target[perf], minlength=k)
            t1 = np.bincount(org[perf], (z * target)[perf], minlength=k)
            r0 = t0 - np.bincount(org[perf], ep.amount[perf], minlength=k)
            r1 = t1 - np.bincount(org[perf], (z * ep.amount + (1 - z) * ep.post_affected)[perf], minlength=k)
        else:
            perf = np.zeros(0, bool)
            t0 = t1 = r0 = r1 = np.zeros(k)
            priced = np.zeros(0, bool)
        quality = _by_org(self.quality, pop, 1.0, "quality")
        pos_factor = 1 - self.quality_adjustment * (1 - quality)
        neg_factor = 1 - self.quality_adjustment * quality
        participants = np.flatnonzero(t0 > 0)
        sg, sl = self.stop_gain, self.stop_loss

        def payments(e):
            t = t0[:, None] + t1[:, None] * e[None, :]
            rec = r0[:, None] + r1[:, None] * e[None, :]
            capped = np.clip(rec, -sl * t, sg * t)
            final = np.where(capped > 0, pos_factor[:, None] * capped, neg_factor[:, None] * capped)
            return _linear_payments(a0, a1, e) + final

        def terms():
            t = Terms(k).linear(np.arange(k), a0, a1)
            o = participants
            # positive part: R⁺ − (R − sg·T)⁺ ; negative part: −(−R)⁺ + (−R − sl·T)⁺
            t.relu(o, r0[o], r1[o], pos_factor[o])
            t.relu(o, r0[o] - sg * t0[o], r1[o] - sg * t1[o], -pos_factor[o])
            t.relu(o, -r0[o], -r1[o], -neg_factor[o])
            t.relu(o, -r0[o] - sl * t0[o], -r1[o] - sl * t1[o], neg_factor[o])
            return t

        details = {
            "episodes": int(perf.sum()),
            "participants": int(len(participants)),
            "categories_priced": int(priced.sum()),
            "total_target": float(t0.sum()),
            "reconciliation_without_effect": float(r0.sum()),
            "episode_period": list(ep.periods[0]) if not empty else None,
        }
        return Plan(self.name, k, payments, terms, details, {"target": (t0, t1), "ffs": (a0, a1)})


# -- Personal budget --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PersonalBudget(Model):
    """Funding that follows the patient: a personal budget per eligible patient, spent with any provider.

    Budget = mean yearly spending of similar patients (reference year, revalued) × budget factor × share of the
    year observed. Care is paid to whichever provider, of whichever sector, the patient uses (fee-for-service
    amounts, drawn on the budget; spending above the budget is still paid: the payer is the safety net). What is
    left unspent — over the pool of eligible patients (`pooling="pool"`) or patient by patient — is, for the
    `reinvest_share`, spent on the patients' community care (their providers in `reinvest_settings`, pro rata of
    their spending there), the rest returning to the payer. The flows by sector show where the money goes.
    """

    name: ClassVar[str] = "personal_budget"
    title: ClassVar[str] = "Funding that follows the patient (personal budget)"

    eligibility: str = param("long_term_condition", "Eligible patients.", CHOICE, kind="str", choices=SCOPES)
    budget_factor: float = param(1.0, "Multiplier on the budget.", CHOICE, bounds=(0.0, 10.0),
                                 sensitivity=(0.95, 1.05))
    pooling: str = param("pool", "Unspent budget counted over the pool of eligible patients or per patient (per "
                         "patient, every under-spender's remainder counts: costly with skewed spending).", CHOICE,
                         kind="str", choices=("pool", "patient"))
    reinvest_share: float = param(1.0, "Share of the unspent budget spent on community care (1.0: the whole budget "
                                  "follows the patient).", CHOICE, bounds=(0.0, 1.0), sensitivity=(0.5, 1.0))
    reinvest_settings: tuple[str, ...] = param(("outpatient", "home"), "Settings of the community care the unspent "
                                               "budget is spent on.", CHOICE, kind="str_list", choices=SETTINGS)
    revaluation: float | None = param(None, "Revaluation of the reference year's spending (null: observed national "
                                      "growth over the year before the reference year).", CHOICE,
                                      kind="optional_float", bounds=(-0.5, 1.0))

    def plan(self, pop: Population) -> Plan:
        k = pop.n_organisations
        ref = reference_index(pop)
        eligible = pop.observed & scope_mask(pop, self.eligibility)
        idx = np.flatnonzero(eligible)
        rev = self.revaluation
        if rev is None:
            rev = _national_growth(pop, ref - 1, ref) if ref >= 1 else 0.0
        rate = similar_rate(pop, pop.spending(ref), reference=ref)
        budget = rate[idx] * (1 + rev) * pop.exposure[-1][idx] * self.budget_factor
        s0 = pop.spending(-1)[idx]
        alpha = pop.affected()[idx]
        a0, a1 = _ffs(pop)
        # where the unspent budget goes: the eligible patients' community providers, pro rata of their spending
        pos = np.full(pop.n_persons, -1)
        pos[idx] = np.arange(len(idx))
        lines = pop.perf_lines & _setting_mask(pop, self.reinvest_settings) & eligible[pop.line_person]
        l_pat, l_org, l_amt = pos[pop.line_person[lines]], pop.line_org[lines], pop.line_amount[lines]
        r = self.reinvest_share
        if self.pooling == "pool":
            total = l_amt.sum()
            share = np.bincount(l_org, l_amt, minlength=k) / total if total > 0 else np.zeros(k)
            p_u, q_u = budget.sum() - s0.sum(), -alpha.sum()
            owners = np.flatnonzero(share)

            def payments(e):
                unspent = np.maximum(0.0, p_u + q_u * e)
                return _linear_payments(a0, a1, e) + (r * share)[:, None] * unspent[None, :]

            def terms():
                return Terms(k).linear(np.arange(k), a0, a1).relu(owners, p_u, q_u, r * share[owners])
        else:
            per_patient = np.bincount(l_pat, l_amt, minlength=len(idx))
            w_line = np.where(per_patient[l_pat] > 0, l_amt / np.maximum(per_patient[l_pat], 1e-300), 0.0)
            # patients without community spending: to their team if registered, else back to the payer
            none = (per_patient == 0) & (pop.team[idx] >= 0)
            e_pat = np.concatenate([l_pat, np.flatnonzero(none)])
            e_org = np.concatenate([l_org, pop.team[idx][none]])
            e_w = np.concatenate([w_line, np.ones(none.sum())])
            m = sp.csr_matrix((e_w, (e_org, e_pat)), shape=(k, len(idx)))
            p_u, q_u = budget - s0, -alpha

            def payments(e):
                unspent = np.maximum(0.0, p_u[:, None] + q_u[:, None] * e[None, :])
                return _linear_payments(a0, a1, e) + r * np.asarray(m @ unspent)

            def terms():
                return Terms(k).linear(np.arange(k), a0, a1).relu(e_org, p_u[e_pat], q_u[e_pat], r * e_w)

        details = {"eligible_patients": int(len(idx)), "budgets": float(budget.sum()),
                   "spending_without_effect": float(s0.sum()), "revaluation": rev, "pooling": self.pooling}
        return Plan(self.name, k, payments, terms, details, {"ffs": (a0, a1), "budgets": budget})


# -- Margin sharing ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MarginSharing:
    """Margin sharing between actors: a rule splitting a model's gains between the organisations of an experiment.

    Gains = what the model pays the participating organisations beyond fee-for-service at the same effect
    (shared savings, forfaits above the acts they replace, reconciliation payments...), summed over them. Each
    participant then receives its fee-for-service plus its share of that sum: pro rata of effort (given effort
    values, else fee-for-service revenue in the performance year as a proxy for activity), pro rata of patients
    (distinct patients it cared for in the performance year), or by fixed keys. Non-participants are unchanged;
    the payer pays the same total. A participant's share of a negative sum (a repayment) is a loss.
    """

    rule: str = param("patients", "effort, patients or fixed.", CHOICE, kind="str",
                      choices=("effort", "patients", "fixed"))
    organisations: tuple[str, ...] = param((), "Participating organisation ids (empty: every organisation).",
                                           CHOICE, kind="str_list")
    keys: dict | None = param(None, "Fixed keys per organisation id (rule 'fixed').", CHOICE, kind="map")
    effort: dict | None = param(None, "Effort per organisation id (rule 'effort'; default: fee-for-service revenue).",
                                CHOICE, kind="map")

    name: ClassVar[str] = "margin_sharing"
    title: ClassVar[str] = "Margin sharing between actors"

    def __post_init__(self) -> None:
        check_choice("sharing rule", self.rule, ("effort", "patients", "fixed"))
        if self.rule == "fixed" and not self.keys:
            raise FundingInputError("sharing rule 'fixed' needs keys {organisation id: weight}.")
        for name in ("keys", "effort"):
            values = getattr(self, name)
            if values is not None and (not isinstance(values, dict) or any(
                    not isinstance(v, int | float) or v < 0 or not math.isfinite(v) for v in values.values())):
                raise FundingInputError(f"sharing {name} must map organisation ids to non-negative numbers.")

    def parameters(self) -> dict[str, Any]:
        return {"rule": self.rule, "organisations": list(self.organisations), "keys": self.keys,
                "effort": self.effort}

    def shares(self, pop: Population) -> tuple[np.ndarray, np.ndarray]:
        """(participants mask, share of each organisation) — shares sum to 1 over the participants."""
        k = pop.n_organisations
        index = {o: i for i, o in enumerate(pop.organisations)}
        named = list(self.organisations) or (list(self.keys) if self.rule == "fixed" and self.keys else [])
        unknown = [o for o in named if o not in index]
        if unknown:
            raise FundingInputError(f"sharing: unknown organisation(s) {', '.join(unknown[:5])}.")
        mask = np.zeros(k, bool)
        if named:
            mask[[index[o] for o in named]] = True
        else:
            mask[:] = True
        if self.rule == "fixed":
            weight = np.array([float(self.keys.get(o, 0.0)) for o in pop.organisations])
        elif self.rule == "effort":
            if self.effort:
                weight = np.array([float(self.effort.get(o, 0.0)) for o in pop.organisations])
            else:
                weight = _ffs(pop)[0]
        else:
            perf = pop.perf_lines
            pairs = np.unique(pop.line_org[perf] * pop.n_persons + pop.line_person[perf])
            weight = np.bincount(pairs // pop.n_persons, minlength=k).astype(float)
        weight = np.where(mask, weight, 0.0)
        if weight.sum() <= 0:
            raise FundingInputError("sharing: the participants' keys (or patients, or effort) sum to zero.")
        return mask, weight / weight.sum()


MODELS: dict[str, type[Model]] = {
    m.name: m for m in (FeeForService, Capitation, SharedSavingsIPEP, SharedSavingsMSSP, BundledEpisodes,
                        PersonalBudget)
}
"""The models of `--model`, by name."""
MODEL_NAMES: tuple[str, ...] = tuple(MODELS)


def _coerce(f: dataclasses.Field, value: Any, model: str) -> Any:
    kind = f.metadata.get("kind", "float")
    label = f"{model} parameter {f.name}"
    if kind in ("str_list", "float_list"):
        if isinstance(value, str) or not isinstance(value, list | tuple):
            raise FundingInputError(f"{label} must be a list (got {value!r}).")
        return tuple(value)
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int | float) or float(value) != int(value):
            raise FundingInputError(f"{label} must be an integer (got {value!r}).")
        return int(value)
    if kind == "bool":
        if not isinstance(value, bool):
            raise FundingInputError(f"{label} must be true or false (got {value!r}).")
        return value
    if kind == "quality":
        if value is None or isinstance(value, dict):
            return value
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise FundingInputError(f"{label} must be null, a number in [0, 1] or a mapping (got {value!r}).")
        return float(value)
    if kind == "map":
        if value is not None and not isinstance(value, dict):
            raise FundingInputError(f"{label} must be a mapping (got {value!r}).")
        return value
    return value


def build_model(name: str, params: dict[str, Any] | None = None) -> Model:
    """A model by name with parameters from a mapping (unknown names and values are errors listing the allowed)."""
    check_choice("model", name, MODEL_NAMES)
    cls = MODELS[name]
    params = dict(params or {})
    allowed = tuple(f.name for f in dataclasses.fields(cls))
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise FundingInputError(f"unknown parameter(s) {', '.join(unknown)} for model {name}; allowed: "
                                f"{', '.join(allowed)}.")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values = {key: _coerce(fields[key], value, name) for key, value in params.items()}
    return cls(**values)


def build_sharing(spec: dict[str, Any] | None) -> MarginSharing | None:
    """A `MarginSharing` from a mapping (or None)."""
    if spec is None:
        return None
    if not isinstance(spec, dict):
        raise FundingInputError("sharing must be a mapping with rule, organisations, keys, effort.")
    allowed = ("rule", "organisations", "keys", "effort")
    unknown = sorted(set(spec) - set(allowed))
    if unknown:
        raise FundingInputError(f"unknown sharing key(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}.")
    organisations = spec.get("organisations", ())
    if isinstance(organisations, str) or not isinstance(organisations, list | tuple):
        raise FundingInputError("sharing organisations must be a list of organisation ids.")
    return MarginSharing(rule=spec.get("rule", "patients"), organisations=tuple(organisations),
                         keys=spec.get("keys"), effort=spec.get("effort"))
