"""Analyses: a model applied to a population with an effect, break-even, Monte Carlo, sensitivity.

Every analysis compares with the status quo: fee-for-service at tariffs, without the effect. Net savings =
baseline payer cost − payer cost under the model with the effect, where the payer cost includes the programme's
cost (`programme_cost`, euros per year, paid to the recipient "programme"). What the payer pays, the recipients
receive. An organisation *loses* when it receives more than a cent less than under the status quo.

Methods orchestrate, numbers happen in functions: results are frozen dataclasses with `to_dict()` (the JSON of
`tremplin funding ...`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tremplin.funding.effect import Effect
from tremplin.funding.errors import FundingInputError
from tremplin.funding.models import MarginSharing, Model, Plan, _ffs
from tremplin.funding.piecewise import LOWER, Piecewise, Terms, inside_any, loss_intervals
from tremplin.funding.population import Population

Progress = Callable[[float, str], None]
LOSS_TOLERANCE = 0.01
"""An organisation loses when it receives more than one cent less than under the status quo."""
PROGRAMME = "programme"
QUANTILES = (0.05, 0.5, 0.95)
"""Quantiles of the Monte Carlo's net savings: the CLI contract of issue 14."""
PARAMETER_SETS = 50
"""Parameter vectors drawn by a Monte Carlo over parameter ranges (each draw of the effect uses one, in turn): a
modelling choice of Tremplin, enough for the spread of net savings while every vector re-applies the model."""
SHARED_CHUNK = 2_000_000  # owner × draw cells per block when checking the losses of margin-sharing participants


def _noop(fraction: float, message: str) -> None:
    return None


@dataclass(eq=False)
class Scenario:
    """A model (and an optional margin-sharing rule) applied to a population, with a programme cost."""

    population: Population
    model: Model
    sharing: MarginSharing | None = None
    programme_cost: float = 0.0
    _plan: Plan | None = None
    _compiled: Piecewise | None = None

    def __post_init__(self) -> None:
        if not math.isfinite(self.programme_cost) or self.programme_cost < 0:
            raise FundingInputError(f"the programme cost must be a non-negative number of euros per year "
                                    f"(got {self.programme_cost!r}).")
        pop = self.population
        self.ffs0, self.ffs1 = _ffs(pop)  # status quo per organisation: ffs0 (+ ffs1 × E under fee-for-service)
        if self.sharing is not None:
            self.shared, self.shares = self.sharing.shares(pop)
        else:
            self.shared, self.shares = np.zeros(pop.n_organisations, bool), np.zeros(pop.n_organisations)

    # -- the model ----------------------------------------------------------------------------------------------
    @property
    def plan(self) -> Plan:
        if self._plan is None:
            self._plan = self.model.plan(self.population)
        return self._plan

    @property
    def baseline_cost(self) -> float:
        """Payer cost of the status quo (fee-for-service, no effect)."""
        return float(self.ffs0.sum())

    def payments(self, effects) -> np.ndarray:
        """Payments per organisation (rows) at each effect (columns), margin sharing applied."""
        e = np.atleast_1d(np.asarray(effects, dtype=float))
        pay = self.plan.payments(e)
        if self.shared.any():
            ffs = self.ffs0[:, None] + self.ffs1[:, None] * e[None, :]
            gains = (pay - ffs)[self.shared].sum(axis=0)
            pay = pay.copy()
            pay[self.shared] = ffs[self.shared] + self.shares[self.shared, None] * gains[None, :]
        return pay

    def total(self) -> Piecewise:
        """Payments to organisations as one compiled piecewise-linear function of the effect."""
        if self._compiled is None:
            self._compiled = self.plan.terms().compile()
        return self._compiled

    def net_savings(self, effects) -> np.ndarray:
        return self.baseline_cost - self.total()(effects) - self.programme_cost

    # -- who loses ----------------------------------------------------------------------------------------------
    def provider_loses(self, effects: np.ndarray) -> np.ndarray:
        """For each effect, whether some organisation receives less than under the status quo (exact)."""
        e = np.asarray(effects, dtype=float)
        terms = self.plan.terms()
        canon = terms.canonical()
        lo, hi = loss_intervals(canon, self.ffs0, owners=~self.shared, tolerance=LOSS_TOLERANCE)
        loses = inside_any(e, lo, hi)
        if self.shared.any():
            pool = terms.select(self.shared)
            idx = np.flatnonzero(self.shared)
            pool.linear(idx, -self.ffs0[idx], -self.ffs1[idx])
            gains = pool.compile()(e)
            step = max(1, SHARED_CHUNK // max(len(e), 1))
            for start in range(0, len(idx), step):
                block = idx[start:start + step]
                delta = self.ffs1[block, None] * e[None, :] + self.shares[block, None] * gains[None, :]
                loses |= (delta < -LOSS_TOLERANCE).any(axis=0)
        return loses

    def parameters(self) -> dict[str, Any]:
        pop = self.population
        return {
            **self.model.parameters(),
            "programme_cost": self.programme_cost,
            "outcome": pop.outcome,
            "performance_year": pop.performance_year,
            "episode_window_days": None if pop.episodes is None else pop.episodes.window_days,
            "sharing": None if self.sharing is None else self.sharing.parameters(),
        }

    def revenue(self, payments: np.ndarray) -> dict[str, Any]:
        """`provider_revenue` block for one column of payments (programme included when it costs something)."""
        pop = self.population
        by_org = {o: float(v) for o, v in zip(pop.organisations, payments, strict=True)}
        by_sector: dict[str, float] = {}
        for sector, v in zip(pop.org_sector, payments, strict=True):
            by_sector[sector] = by_sector.get(sector, 0.0) + float(v)
        total = float(payments.sum())
        if self.programme_cost > 0:
            by_org[PROGRAMME] = self.programme_cost
            by_sector[PROGRAMME] = self.programme_cost
            total += self.programme_cost
        return {"total": total, "by_sector": dict(sorted(by_sector.items())), "by_organisation": by_org}


# ---------------------------------------------------------------------------------------------------------------
# Results


def _common(scenario: Scenario, effect: float, effect_info: dict | None) -> dict[str, Any]:
    pay = scenario.payments([effect])[:, 0]
    revenue = scenario.revenue(pay)
    payer_cost = revenue["total"]
    baseline = {
        "total": scenario.baseline_cost,
        "by_sector": _by_sector(scenario.population, scenario.ffs0),
        "by_organisation": {o: float(v) for o, v in zip(scenario.population.organisations, scenario.ffs0,
                                                         strict=True)}}
    changes = pay - scenario.ffs0
    pop = scenario.population
    return {
        "model": scenario.model.name,
        "parameters": scenario.parameters(),
        "population": pop.summary(),
        "effect": effect_info or {"outcome": pop.outcome, "estimate": effect},
        "payer_cost": payer_cost,
        "provider_revenue": revenue,
        "net_savings": scenario.baseline_cost - payer_cost,
        "baseline": {"payer_cost": scenario.baseline_cost, "provider_revenue": baseline},
        "organisations_losing": int((changes < -LOSS_TOLERANCE).sum()),
        "details": scenario.plan.details,
    }


def _by_sector(pop: Population, amounts: np.ndarray) -> dict[str, float]:
    out: dict[str, float] = {}
    for s, v in zip(pop.org_sector, amounts, strict=True):
        out[s] = out.get(s, 0.0) + float(v)
    return dict(sorted(out.items()))


@dataclass(frozen=True)
class SimulationResult:
    """A model applied at one effect."""

    data: dict[str, Any]

    @property
    def net_savings(self) -> float:
        return self.data["net_savings"]

    def to_dict(self) -> dict[str, Any]:
        return self.data


def simulate(scenario: Scenario, effect: float | Effect = 0.0) -> SimulationResult:
    """Payer cost, provider revenue (total, by sector, by organisation) and net savings at an effect."""
    info = effect.to_dict() if isinstance(effect, Effect) else None
    e = effect.estimate if isinstance(effect, Effect) else float(effect)
    if not math.isfinite(e) or e < LOWER:
        raise FundingInputError(f"the effect is a relative change of at least -1 (got {e!r}).")
    return SimulationResult(_common(scenario, e, info))


@dataclass(frozen=True)
class BreakevenResult:
    data: dict[str, Any]

    @property
    def effect(self) -> float | None:
        return self.data["breakeven"]["effect"]

    def to_dict(self) -> dict[str, Any]:
        return self.data


def breakeven(scenario: Scenario, *, lower: float = LOWER, upper: float = 1.0) -> BreakevenResult:
    """The effect at which net savings are zero: the programme's cost covered by the model's savings.

    The largest effect in [lower, upper] where net savings cross zero (exact, on the compiled piecewise-linear
    payer cost). Expressed also as avoided events of the outcome (hospitalisations for the default outcome) per
    year and per day of the performance year. When net savings jump across zero (a threshold such as the MSSP
    minimum savings rate) the jump's effect is reported with `kind = "jump"`; when they never reach zero, the
    effect is null with the reason.
    """
    pop = scenario.population
    target = scenario.baseline_cost - scenario.programme_cost  # payments to organisations at break-even
    e, kind = scenario.total().largest_crossing(target, lower, upper)
    days = (dt.date(pop.performance_year, 12, 31) - dt.date(pop.performance_year, 1, 1)).days + 1
    events = pop.affected_events()
    reason = {
        "root": None,
        "jump": "net savings jump across zero at this effect (a threshold of the model)",
        "above": f"no effect between {lower:+.0%} and {upper:+.0%} makes the model cover the programme's cost",
        "below": f"the model saves more than the programme costs for every effect between {lower:+.0%} and "
                 f"{upper:+.0%}",
    }[kind]
    avoided = None if e is None else -e * events
    data = _common(scenario, 0.0 if e is None else e, None)
    data["breakeven"] = {
        "effect": e,
        "kind": kind,
        "reason": reason,
        "programme_cost": scenario.programme_cost,
        "outcome_events_per_year": events,
        "avoided_hospitalisations_per_year": avoided,
        "avoided_hospitalisations_per_day": None if avoided is None else avoided / days,
    }
    return BreakevenResult(data)


@dataclass(frozen=True)
class MonteCarloResult:
    data: dict[str, Any]
    net_savings: np.ndarray = field(repr=False)
    effects: np.ndarray = field(repr=False)
    provider_loses: np.ndarray = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        return self.data


def _parameter_sets(model: Model, ranges: dict[str, Any], n: int, rng: np.random.Generator) -> list[dict]:
    names = {f.name: f for f in dataclasses.fields(model)}
    sets = []
    for name, bounds in ranges.items():
        if name not in names:
            raise FundingInputError(f"unknown parameter {name!r} in ranges; allowed: {', '.join(names)}.")
        if (not isinstance(bounds, list | tuple) or len(bounds) != 2
                or not all(isinstance(b, int | float) and math.isfinite(b) for b in bounds) or bounds[0] > bounds[1]):
            raise FundingInputError(f"range of {name} must be [low, high] with low <= high (got {bounds!r}).")
    for _ in range(n):
        sets.append({name: float(rng.uniform(lo, hi)) for name, (lo, hi) in ranges.items()})
    return sets


def montecarlo(scenario: Scenario, effect: Effect, *, draws: int, seed: int, ranges: dict[str, Any] | None = None,
               parameter_sets: int = PARAMETER_SETS, progress: Progress | None = None) -> MonteCarloResult:
    """Distribution of net savings over the effect's uncertainty (and optionally uniform parameter ranges).

    Effects are drawn from `np.random.default_rng(seed)` (normal with the effect's SE, or its bootstrap draws
    resampled; clipped at −1). With `ranges` ({parameter: [low, high]}), `parameter_sets` parameter vectors are
    drawn uniformly and draw d uses vector d mod parameter_sets. Each draw is evaluated exactly on the compiled
    piecewise-linear payer cost; P(some provider loses) from the exact loss intervals.
    """
    progress = progress or _noop
    if not isinstance(draws, int) or draws < 1:
        raise FundingInputError(f"--draws must be a positive number of draws (got {draws!r}).")
    rng = np.random.default_rng(seed)
    e = effect.sample(draws, rng)
    net = np.empty(draws)
    loses = np.empty(draws, bool)
    used_sets = []
    if ranges:
        if parameter_sets < 1:
            raise FundingInputError("parameter_sets must be at least 1.")
        sets = _parameter_sets(scenario.model, ranges, min(parameter_sets, draws), rng)
        for j, values in enumerate(sets):
            sub = Scenario(scenario.population, dataclasses.replace(scenario.model, **values), scenario.sharing,
                           scenario.programme_cost)
            mask = np.arange(draws) % len(sets) == j
            net[mask] = sub.net_savings(e[mask])
            loses[mask] = sub.provider_loses(e[mask])
            used_sets.append(values)
            progress((j + 1) / len(sets), f"Parameter set {j + 1}/{len(sets)}")
    else:
        progress(0.1, "Compiling the payer cost")
        net[:] = scenario.net_savings(e)
        progress(0.6, "Checking every organisation's revenue")
        loses[:] = scenario.provider_loses(e)
        progress(1.0, f"{draws:,} draws")
    quantiles = np.quantile(net, QUANTILES)
    base = _common(scenario, effect.estimate, effect.to_dict())
    base["parameters"]["ranges"] = ranges or None
    base["montecarlo"] = {
        "draws": draws,
        "seed": seed,
        "distribution": effect.distribution,
        "mean_net_savings": float(net.mean()),
        "sd_net_savings": float(net.std(ddof=1)) if draws > 1 else 0.0,
        "p_payer_saves": float((net > 0).mean()),
        "p_provider_loses": float(loses.mean()),
        "quantiles": {f"{q:g}": float(v) for q, v in zip(QUANTILES, quantiles, strict=True)},
        "mean_effect": float(e.mean()),
        "parameter_sets": len(used_sets) if ranges else None,
    }
    return MonteCarloResult(base, net_savings=net, effects=e, provider_loses=loses)


@dataclass(frozen=True)
class SensitivityResult:
    data: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return self.data

    def figure(self):
        from tremplin.funding.plots import tornado  # noqa: PLC0415 -- slow import

        return tornado(self.data)


def sensitivity(scenario: Scenario, effect: Effect, *, progress: Progress | None = None) -> SensitivityResult:
    """Net savings when each main parameter moves to the low and high ends of its range (a tornado).

    Ranges: each model's parameters with a `sensitivity` range in their metadata, the effect's interval (or
    ±50 % of the estimate without one) and the programme cost ±25 % when there is one; others at their values.
    These ranges are modelling choices of Tremplin (no regulatory value); each model parameter's range is listed
    by `tremplin funding models` (`sensitivity_range`). Every value is the exact net savings of the model re-applied
    with that one parameter changed.
    """
    progress = progress or _noop
    base_net = float(scenario.net_savings(np.array([effect.estimate]))[0])
    rows = []
    interval = effect.interval() or (effect.estimate * 1.5, effect.estimate * 0.5)
    lo_e, hi_e = (max(LOWER, min(interval)), max(interval))
    n = scenario.net_savings(np.array([lo_e, hi_e]))
    rows.append({"parameter": "effect", "base": effect.estimate, "low": lo_e, "high": hi_e,
                 "net_savings_low": float(n[0]), "net_savings_high": float(n[1])})
    if scenario.programme_cost > 0:
        c = scenario.programme_cost
        rows.append({"parameter": "programme_cost", "base": c, "low": 0.75 * c, "high": 1.25 * c,
                     "net_savings_low": base_net + 0.25 * c, "net_savings_high": base_net - 0.25 * c})
    varied = [f for f in dataclasses.fields(scenario.model) if f.metadata.get("sensitivity")]
    for i, f in enumerate(varied):
        progress(i / max(len(varied), 1), f"Varying {f.name}")
        rng_ = f.metadata["sensitivity"]
        values = []
        for v in rng_:
            sub = Scenario(scenario.population, dataclasses.replace(scenario.model, **{f.name: v}), scenario.sharing,
                           scenario.programme_cost)
            values.append(float(sub.net_savings(np.array([effect.estimate]))[0]))
        rows.append({"parameter": f.name, "base": getattr(scenario.model, f.name), "low": rng_[0], "high": rng_[1],
                     "net_savings_low": values[0], "net_savings_high": values[1]})
    for r in rows:
        r["swing"] = abs(r["net_savings_high"] - r["net_savings_low"])
    rows.sort(key=lambda r: -r["swing"])
    progress(1.0, f"{len(rows)} parameters varied")
    data = _common(scenario, effect.estimate, effect.to_dict())
    data["sensitivity"] = {"base_net_savings": base_net, "parameters": rows}
    return SensitivityResult(data)


def terms_for(scenario: Scenario) -> Terms:
    """The scenario's owner-tagged pieces (for benchmarks and tests)."""
    return scenario.plan.terms()
