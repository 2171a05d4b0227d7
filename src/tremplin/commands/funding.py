"""`tremplin funding ...`: payment models on a care dataset and an evaluated effect, with a stable JSON contract.

    tremplin funding models [--format text|json]
    tremplin funding simulate DATA_DIR --model M [--params P.json] [--effect E | --run RESULT.json]
        [--outcome O] [--programme-cost EUR_PER_YEAR] [--format text|json]
    tremplin funding breakeven DATA_DIR --model M --programme-cost EUR_PER_YEAR [--outcome O] [--params P.json]
    tremplin funding montecarlo DATA_DIR --model M (--effect E --effect-se S | --run RESULT.json) --draws N
        --seed K [--ranges R.json] [--programme-cost C] [--params P.json]
    tremplin funding sensitivity DATA_DIR --model M (--effect E [--effect-se S] | --run RESULT.json)
        [--plot FILE.html] [--programme-cost C] [--params P.json]

`--params P.json`: one JSON object with the model's parameters (`tremplin funding models` lists them) and,
optionally, `sharing` (margin sharing: rule, organisations, keys, effort), `performance_year`, `territories` (ids).
Bad input exits with code 2 and a message listing the allowed values; `--format json` prints one JSON object.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from tremplin.commands.data import _progress
from tremplin.commands.estimate import write_figures_html
from tremplin.engine.errors import EngineInputError

FORMATS = ("text", "json")
RESERVED = ("sharing", "performance_year", "territories")

console = Console(stderr=True)
out = Console()


def _lib():
    """The funding library, imported when a funding command runs: it loads Ibis and DuckDB, which every other
    `tremplin` command (all registered at start-up) would otherwise pay for."""
    import tremplin.funding as funding  # noqa: PLC0415 -- slow import

    return funding


def _fail(message: str) -> None:
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(code=2)


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        _fail(f"invalid --{name} {value!r}; allowed values: {', '.join(allowed)}.")


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        _fail(f"{what} file not found: {path}")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        _fail(f"{what} file {path} is not valid JSON: {exc}")


def jsonable(value: Any) -> Any:
    """NumPy scalars and arrays to plain Python; NaN and infinities to null."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [jsonable(v) for v in value]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    return value


def _emit(result: dict, format_: str, text: Any) -> None:
    if format_ == "json":
        sys.stdout.write(json.dumps(jsonable(result), allow_nan=False) + "\n")
    else:
        out.print(text)


def _scenario(data_dir: Path, model: str, params: Path | None, outcome: str, programme_cost: float):
    """Load the population (Rich progress) and build the scenario; FundingInputError exits 2 upstream."""
    funding = _lib()
    _choice("model", model, funding.MODEL_NAMES)
    _choice("outcome", outcome, funding.EFFECT_OUTCOMES)
    spec = {} if params is None else _read_json(params, "parameters")
    if not isinstance(spec, dict):
        _fail(f"parameters file {params} must hold one JSON object.")
    spec = dict(spec)
    reserved = {key: spec.pop(key) for key in RESERVED if key in spec}
    if "programme_cost" in spec:
        _fail("give the programme cost with --programme-cost, not in the parameters file.")
    model_obj = funding.build_model(model, spec)
    window = getattr(model_obj, "window_days", None)
    territories = reserved.get("territories")
    if territories is not None and (not isinstance(territories, list) or not all(
            isinstance(t, int) and not isinstance(t, bool) for t in territories)):
        _fail("territories must be a list of territory ids (integers).")
    year = reserved.get("performance_year")
    if year is not None and (not isinstance(year, int) or isinstance(year, bool)):
        _fail(f"performance_year must be a year (integer), got {year!r}.")
    with _progress("Reading the care data") as progress:
        kwargs = {"episode_window_days": window} if window else {}
        pop = funding.load_population(data_dir, outcome=outcome, performance_year=year, territories=territories,
                              progress=progress, **kwargs)
    return funding.Scenario(pop, model_obj, funding.build_sharing(reserved.get("sharing")), float(programme_cost))


def _effect(effect: float | None, effect_se: float | None, run: Path | None, outcome: str | None, data_dir: Path,
            *, required: bool):
    """The effect from the options or a run file; returns (Effect or None, outcome)."""
    funding = _lib()
    if run is not None:
        if effect is not None or effect_se is not None:
            _fail("give either --run or --effect/--effect-se, not both.")
        doc = _read_json(run, "run")
        if not isinstance(doc, dict):
            _fail(f"run file {run} must hold one JSON object (tremplin estimate --format json).")
        run_outcome = doc.get("outcome")
        if outcome is not None and run_outcome is not None and outcome != run_outcome:
            _fail(f"--outcome {outcome} differs from the run's outcome {run_outcome}.")
        baseline = None
        if "headline" not in doc and doc.get("baseline") is None and isinstance(doc.get("att"), dict):
            _choice("outcome", run_outcome or "", funding.EFFECT_OUTCOMES)
            baseline = funding.treated_baseline(data_dir, run_outcome, n_units=doc.get("n_units"),
                                        n_periods=doc.get("n_periods"))
        e = funding.effect_from_json(doc, baseline=baseline, source=str(run))
        return e, e.outcome
    outcome = outcome or funding.DEFAULT_OUTCOME
    if effect is None:
        if required:
            _fail("give the effect with --effect E (a relative change, e.g. -0.12) or --run RESULT.json.")
        return None, outcome
    return funding.Effect(estimate=float(effect), se=effect_se, outcome=outcome), outcome


def _money(x: float | None) -> str:
    return "—" if x is None else f"{x:,.0f} €".replace(",", " ")


def _summary_table(d: dict, title: str) -> Table:
    table = Table(title=title)
    table.add_column("")
    table.add_column("status quo", justify="right")
    table.add_column(d["model"], justify="right")
    table.add_row("payer cost", _money(d["baseline"]["payer_cost"]), _money(d["payer_cost"]))
    sectors = sorted(set(d["baseline"]["provider_revenue"]["by_sector"]) | set(d["provider_revenue"]["by_sector"]))
    for s in sectors:
        table.add_row(f"  revenue: {s}", _money(d["baseline"]["provider_revenue"]["by_sector"].get(s)),
                      _money(d["provider_revenue"]["by_sector"].get(s)))
    table.add_row("net savings", "", _money(d["net_savings"]))
    return table


def models(format_: str = typer.Option("text", "--format", help="text | json.")) -> None:
    """List the payment models and their parameters with defaults and sources."""
    funding = _lib()
    _choice("format", format_, FORMATS)
    doc = {"models": [m.describe() for m in funding.MODELS.values()],
           "sharing": funding.models.describe(funding.MarginSharing)}
    if format_ == "json":
        _emit(doc, format_, "")
        return
    for m in [*doc["models"], doc["sharing"]]:
        table = Table(title=f"{m['name']} — {m['title']}", show_lines=False)
        for col in ("parameter", "default", "meaning", "source"):
            table.add_column(col)
        for p in m["parameters"]:
            table.add_row(p["name"], json.dumps(p["default"], ensure_ascii=False), p["description"], p["source"])
        out.print(table)


def register(app: typer.Typer) -> None:
    """Add the `funding` command group to the `tremplin` application."""
    group = typer.Typer(name="funding", no_args_is_help=True,
                        help="Payment models on a care dataset and an evaluated effect: who pays, who gains, "
                             "break-even, Monte Carlo, sensitivity.")
    app.add_typer(group, name="funding")
    group.command("models")(models)

    data_arg = typer.Argument(..., help="Care dataset directory (tremplin generate output, or our schema).")
    model_opt = typer.Option(..., "--model", help="ffs | capitation | ipep | mssp | bundle | personal_budget.")
    params_opt = typer.Option(None, "--params", help="JSON file of model parameters (see `tremplin funding models`).")
    outcome_opt = typer.Option(None, "--outcome", help="Outcome the effect changes (default "
                               "avoidable_hospitalisations).")
    run_opt = typer.Option(None, "--run", help="Read the effect and its uncertainty from `tremplin estimate "
                           "--format json` output.")
    cost_opt = typer.Option(0.0, "--programme-cost", help="Programme cost, euros per year (paid by the payer).")
    format_opt = typer.Option("text", "--format", help="text | json.")

    @group.command("simulate")
    def simulate_cmd(
        data_dir: Path = data_arg, model: str = model_opt, params: Path | None = params_opt,
        effect: float | None = typer.Option(None, "--effect", help="Relative change of the outcome, e.g. -0.12."),
        outcome: str | None = outcome_opt, run: Path | None = run_opt, programme_cost: float = cost_opt,
        format_: str = format_opt,
    ) -> None:
        """Apply a model before and after the effect: payer cost, provider revenue, net savings."""
        _choice("format", format_, FORMATS)
        try:
            eff, outcome = _effect(effect, None, run, outcome, data_dir, required=False)
            scenario = _scenario(data_dir, model, params, outcome, programme_cost)
            result = _lib().simulate(scenario, eff if eff is not None else 0.0).to_dict()
        except EngineInputError as exc:
            _fail(str(exc))
        e = result["effect"]["estimate"]
        _emit(result, format_, _summary_table(result, f"{model} with an effect of {e:+.1%} on {outcome}"))

    @group.command("breakeven")
    def breakeven_cmd(
        data_dir: Path = data_arg, model: str = model_opt,
        programme_cost: float = typer.Option(..., "--programme-cost", help="Programme cost, euros per year."),
        outcome: str | None = outcome_opt, params: Path | None = params_opt, format_: str = format_opt,
    ) -> None:
        """The effect at which the model covers the programme's cost (relative, and avoided events per day)."""
        _choice("format", format_, FORMATS)
        try:
            scenario = _scenario(data_dir, model, params, outcome or _lib().DEFAULT_OUTCOME, programme_cost)
            result = _lib().breakeven(scenario).to_dict()
        except EngineInputError as exc:
            _fail(str(exc))
        b = result["breakeven"]
        if b["effect"] is None:
            text = f"No break-even: {b['reason']}."
        else:
            text = (f"{model}: the programme ({_money(programme_cost)} per year) is covered from an effect of "
                    f"{b['effect']:+.1%} on {scenario.population.outcome}, i.e. "
                    f"{b['avoided_hospitalisations_per_year']:,.1f} avoided events per year, "
                    f"{b['avoided_hospitalisations_per_day']:.2f} per day.")
        _emit(result, format_, text)

    @group.command("montecarlo")
    def montecarlo_cmd(
        data_dir: Path = data_arg, model: str = model_opt,
        effect: float | None = typer.Option(None, "--effect", help="Relative change of the outcome, e.g. -0.12."),
        effect_se: float | None = typer.Option(None, "--effect-se", help="Standard error of the effect."),
        draws: int = typer.Option(..., "--draws", help="Number of draws."),
        seed: int = typer.Option(..., "--seed", help="Random seed: same seed, same draws."),
        run: Path | None = run_opt, outcome: str | None = outcome_opt, params: Path | None = params_opt,
        ranges: Path | None = typer.Option(None, "--ranges", help="JSON {parameter: [low, high]}: also draw "
                                           "parameters uniformly."),
        programme_cost: float = cost_opt, format_: str = format_opt,
    ) -> None:
        """Distribution of net savings over the effect's uncertainty: P(payer saves), P(some provider loses)."""
        _choice("format", format_, FORMATS)
        if draws < 1:
            _fail(f"--draws must be at least 1 (got {draws}).")
        try:
            eff, outcome = _effect(effect, effect_se, run, outcome, data_dir, required=True)
            if eff.distribution == "point":
                _fail("the Monte Carlo needs the effect's uncertainty: give --effect-se S (or a --run with an SE).")
            ranges_doc = None if ranges is None else _read_json(ranges, "ranges")
            if ranges_doc is not None and not isinstance(ranges_doc, dict):
                _fail("ranges file must hold one JSON object {parameter: [low, high]}.")
            scenario = _scenario(data_dir, model, params, outcome, programme_cost)
            with _progress("Monte Carlo") as progress:
                result = _lib().montecarlo(scenario, eff, draws=draws, seed=seed, ranges=ranges_doc,
                                    progress=progress).to_dict()
        except EngineInputError as exc:
            _fail(str(exc))
        mc = result["montecarlo"]
        q = mc["quantiles"]
        text = (f"{model}, {draws:,} draws: mean net savings {_money(mc['mean_net_savings'])} "
                f"(sd {_money(mc['sd_net_savings'])}; 5 % {_money(q['0.05'])}, median {_money(q['0.5'])}, "
                f"95 % {_money(q['0.95'])}); P(payer saves) = {mc['p_payer_saves']:.1%}, "
                f"P(some provider loses) = {mc['p_provider_loses']:.1%}.")
        _emit(result, format_, text)

    @group.command("sensitivity")
    def sensitivity_cmd(
        data_dir: Path = data_arg, model: str = model_opt,
        effect: float | None = typer.Option(None, "--effect", help="Relative change of the outcome, e.g. -0.12."),
        effect_se: float | None = typer.Option(None, "--effect-se", help="Standard error of the effect (its "
                                               "interval is the effect's range in the tornado)."),
        run: Path | None = run_opt, outcome: str | None = outcome_opt, params: Path | None = params_opt,
        programme_cost: float = cost_opt, format_: str = format_opt,
        plot: Path | None = typer.Option(None, "--plot", help="Also write the tornado chart to this HTML file "
                                         "(self-contained)."),
    ) -> None:
        """Tornado: net savings at the low and high ends of each main parameter."""
        _choice("format", format_, FORMATS)
        try:
            eff, outcome = _effect(effect, effect_se, run, outcome, data_dir, required=True)
            scenario = _scenario(data_dir, model, params, outcome, programme_cost)
            with _progress("Sensitivity") as progress:
                res = _lib().sensitivity(scenario, eff, progress=progress)
        except EngineInputError as exc:
            _fail(str(exc))
        result = res.to_dict()
        if plot is not None:
            write_figures_html([res.figure()], plot, title=f"Tremplin — sensitivity of {model}")
            console.print(f"Tornado chart written to {plot}")
        table = Table(title=f"{model}: net savings {_money(result['sensitivity']['base_net_savings'])} at "
                            f"{eff.estimate:+.1%}")
        for col in ("parameter", "low", "high", "net savings (low)", "net savings (high)"):
            table.add_column(col)
        for r in result["sensitivity"]["parameters"]:
            table.add_row(r["parameter"], f"{r['low']:g}", f"{r['high']:g}", _money(r["net_savings_low"]),
                          _money(r["net_savings_high"]))
        _emit(result, format_, table)
