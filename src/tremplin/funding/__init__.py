"""Funding models: what each payment model would pay, who gains, and whether it breaks even, on an evaluated effect.

A pure library (no Django). Typical use, with a care dataset in the engine's schema and an evaluated effect:

    from tremplin.funding import Effect, Scenario, build_model, load_population, simulate, breakeven, montecarlo
    pop = load_population("region", outcome="avoidable_hospitalisations")
    scenario = Scenario(pop, build_model("ipep"), programme_cost=250_000)
    simulate(scenario, -0.12).to_dict()             # payer cost, provider revenue, net savings
    breakeven(scenario).effect                       # relative effect covering the programme's cost
    montecarlo(scenario, Effect(-0.12, se=0.04), draws=100_000, seed=1).to_dict()["montecarlo"]

See `docs/funding.md` for the models, their formulas and sources.
"""

from tremplin.funding.analysis import (
    BreakevenResult,
    MonteCarloResult,
    Scenario,
    SensitivityResult,
    SimulationResult,
    breakeven,
    montecarlo,
    sensitivity,
    simulate,
)
from tremplin.funding.effect import Effect, effect_from_json, treated_baseline
from tremplin.funding.errors import FundingInputError
from tremplin.funding.models import (
    MODEL_NAMES,
    MODELS,
    BundledEpisodes,
    Capitation,
    FeeForService,
    MarginSharing,
    PersonalBudget,
    SharedSavingsIPEP,
    SharedSavingsMSSP,
    build_model,
    build_sharing,
    minimum_savings_rate,
)
from tremplin.funding.population import DEFAULT_OUTCOME, EFFECT_OUTCOMES, Population, load_population

__all__ = [
    "DEFAULT_OUTCOME",
    "EFFECT_OUTCOMES",
    "MODELS",
    "MODEL_NAMES",
    "BreakevenResult",
    "BundledEpisodes",
    "Capitation",
    "Effect",
    "FeeForService",
    "FundingInputError",
    "MarginSharing",
    "MonteCarloResult",
    "PersonalBudget",
    "Population",
    "Scenario",
    "SensitivityResult",
    "SharedSavingsIPEP",
    "SharedSavingsMSSP",
    "SimulationResult",
    "breakeven",
    "build_model",
    "build_sharing",
    "effect_from_json",
    "load_population",
    "minimum_savings_rate",
    "montecarlo",
    "sensitivity",
    "simulate",
    "treated_baseline",
]
