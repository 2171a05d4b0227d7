"""`tremplin power`: minimum detectable effect and follow-up duration for a DiD on territories.

Examples
  # baseline given by hand: 40 territories, 10 treated, mean 120 visits/month, SD 9, AR(1) 0.4
  tremplin power --units 40 --treated 10 --baseline-mean 120 --sd 9 --autocorrelation 0.4 \\
      --effect -0.10 --power 0.8 --format json

  # baseline estimated from a real (pre-intervention) panel, follow-up planned for 18 months,
  # checked by 2,000 placebo simulations on the same panel
  tremplin power --panel panel.csv --outcome visits --unit territory --time month --treated 10 \\
      --months 18 --simulate 2000 --format json

`--format json` prints one JSON object with at least `mde`, `power` and `months_required`; bad input
exits with code 2 and a one-line message on stderr.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import typer

from tremplin.commands.flags import check_flag, fail
from tremplin.engine.errors import EngineInputError
from tremplin.engine.options import Correlation

FORMATS = ("text", "json")


def _clean(obj: Any) -> Any:
    """JSON-safe copy: non-finite floats become null."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if hasattr(obj, "item") and not isinstance(obj, str | bytes):
        return _clean(obj.item())
    return obj


def _load(path: Path):
    import pandas as pd  # noqa: PLC0415 -- slow import

    if not path.exists():
        raise EngineInputError(f"Panel file not found: {path}")
    name = path.name.lower()
    try:
        if name.endswith((".parquet", ".pq")):
            return pd.read_parquet(path)
        if name.endswith((".csv", ".csv.gz", ".txt")):
            return pd.read_csv(path)
    except (ValueError, OSError) as exc:
        raise EngineInputError(f"Could not read panel file {path}: {exc}") from exc
    raise EngineInputError(f"Unsupported panel format {path.suffix!r}: use .csv or .parquet.")


HELP = (
    "Minimum detectable effect and months of follow-up for a DiD on territories.\n\n"
    "Prints the MDE, the power at the evaluated follow-up and the months of follow-up required to reach "
    "the target power. The baseline (mean, residual SD, AR(1) autocorrelation) is given by hand or "
    "estimated from --panel; --simulate adds simulation-based power (placebo assignments + injected "
    "effect, TWFE DiD with CR1 cluster-robust SEs).\n\n"
    "\b\nExamples:\n"
    "  tremplin power --units 40 --treated 10 --baseline-mean 120 \\\n"
    "      --sd 9 --autocorrelation 0.4 --effect -0.10 --format json\n"
    "  tremplin power --panel panel.csv --outcome visits \\\n"
    "      --unit territory --time month --treated 10 --months 18 \\\n"
    "      --simulate 2000 --format json\n\n"
    "--format json prints one JSON object with mde, power, months_required (null when not reachable "
    "within --max-months), evaluated_months, sufficient and assumptions. Bad input exits with code 2."
)


def run_power(
    *,
    panel: Path | None,
    outcome: str | None,
    unit: str | None,
    time: str | None,
    units: int | None,
    treated: int | None,
    treated_share: float | None,
    baseline_mean: float | None,
    sd: float | None,
    autocorrelation: float | None,
    correlation: str,
    effect: float,
    absolute: bool,
    power: float,
    alpha: float,
    pre_months: int,
    months: int | None,
    max_months: int,
    cluster_size: float,
    icc: float,
    simulate: int,
    seed: int,
) -> dict[str, Any]:
    """Compute the power/duration answer as a JSON-ready dict (raises EngineInputError on bad input)."""
    from tremplin.engine import power as pw  # noqa: PLC0415 -- slow import

    data = None
    baseline: dict[str, Any] = {}
    if panel is not None:
        if not (outcome and unit and time):
            raise EngineInputError("--panel needs --outcome, --unit and --time.")
        data = _load(panel)
        b = pw.baseline_from_panel(data, outcome=outcome, unit=unit, time=time)
        baseline = {"source": str(panel), "n_units": b.n_units, "n_periods": b.n_periods,
                    "baseline_mean": b.baseline_mean, "sd": b.sd, "autocorrelation": b.autocorrelation}
        units = units if units is not None else b.n_units
        baseline_mean = baseline_mean if baseline_mean is not None else b.baseline_mean
        sd = sd if sd is not None else b.sd
        autocorrelation = autocorrelation if autocorrelation is not None else b.autocorrelation
    elif simulate:
        raise EngineInputError("--simulate needs a --panel to draw placebo assignments from.")
    missing = [name for name, v in (("--units", units), ("--sd", sd)) if v is None]
    if not absolute and baseline_mean is None:
        missing.append("--baseline-mean (or --absolute)")
    if missing:
        raise EngineInputError(f"missing {', '.join(missing)} (or give --panel to estimate them).")
    assert units is not None and sd is not None
    if treated is None:
        share = 0.5 if treated_share is None else treated_share
        if not 0 < share < 1:
            raise EngineInputError("--treated-share must be strictly between 0 and 1.")
        treated = max(1, round(share * units))
    res = pw.months_required(
        n_units=units, n_treated=treated, baseline_mean=baseline_mean or 0.0, sd=sd,
        autocorrelation=autocorrelation or 0.0, effect=effect, relative=not absolute, power=power, alpha=alpha,
        pre_months=pre_months, max_months=max_months, planned_months=months, correlation=correlation,
        cluster_size=cluster_size, icc=icc,
    )
    out: dict[str, Any] = {
        "mde": res.mde,
        "mde_relative": res.mde_relative,
        "power": res.power,
        "months_required": res.months_required,
        "evaluated_months": res.evaluated_months,
        "sufficient": res.sufficient,
        "effect": res.effect,
        "n_units": units,
        "n_treated": treated,
        "assumptions": res.assumptions,
    }
    if baseline:
        out["baseline"] = baseline
    if simulate:
        assert data is not None and outcome and unit and time
        post = res.evaluated_months
        n_periods = baseline["n_periods"]
        if pre_months + post > n_periods:
            raise EngineInputError(
                f"--simulate needs {pre_months} + {post} periods but the panel has {n_periods}; "
                "lower --pre-months or --months."
            )
        sim = pw.simulate_power(data, outcome=outcome, unit=unit, time=time, n_treated=treated, effect=effect,
                                relative=not absolute, pre_periods=pre_months, post_periods=post, n_sims=simulate,
                                alpha=alpha, power=power, seed=seed)
        out["simulation"] = {"power": sim.power, "power_se": sim.power_se, "size": sim.size, "mde": sim.mde,
                             "effect": sim.effect, "n_sims": sim.n_sims, "post_periods": post,
                             "method": sim.assumptions["method"]}
    return _clean(out)


def _text(d: dict[str, Any]) -> str:
    a = d["assumptions"]
    eff = f"{a['effect']:+.1%} of the baseline mean" if a["relative"] else f"{a['effect']:+g}"
    lines = [
        f"DiD design: {d['n_units']} units ({d['n_treated']} treated), {a['pre_months']} pre-periods, "
        f"alpha {a['alpha']}, target power {a['target_power']:.0%}, {a['correlation']} serial correlation "
        f"{a['rho']:.3g}, residual SD {a['sd']:.4g}",
        f"Effect to detect: {eff} ({d['effect']:+.4g} in outcome units)",
    ]
    if d["months_required"] is None:
        lines.append(f"Months of follow-up required: not reachable within {a['max_months']} months "
                     "(more territories or a longer pre-period are needed)")
    else:
        lines.append(f"Months of follow-up required: {d['months_required']}")
    rel = f" ({d['mde_relative']:.1%} of the baseline mean)" if d.get("mde_relative") is not None else ""
    lines.append(f"At {d['evaluated_months']} months: MDE {d['mde']:.4g}{rel}; power {d['power']:.1%}")
    if d["sufficient"] is not None:
        verdict = "sufficient" if d["sufficient"] else "TOO SHORT to reach the target power"
        lines.append(f"Planned follow-up of {a['planned_months']} months: {verdict}")
    if "baseline" in d:
        b = d["baseline"]
        lines.append(f"Baseline estimated from {b['source']}: {b['n_units']} units x {b['n_periods']} periods, "
                     f"mean {b['baseline_mean']:.4g}, SD {b['sd']:.4g}, AR(1) {b['autocorrelation']:.3f}")
    if "simulation" in d:
        s = d["simulation"]
        lines.append(f"Simulated power ({s['n_sims']} placebo assignments, TWFE + CR1): {s['power']:.1%} "
                     f"(+/- {1.96 * s['power_se']:.1%}); size without effect {s['size']:.1%}; "
                     f"simulated MDE {s['mde']:.4g}")
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    if app.registered_callback is None:  # keep `tremplin power` a subcommand even if registered alone

        @app.callback()
        def _main() -> None:
            pass

    @app.command("power", help=HELP)
    def power_cmd(
        panel: Path | None = typer.Option(None, "--panel", help="Pre-intervention panel (.csv/.parquet) to "
                                          "estimate mean, SD and AR(1) autocorrelation from."),
        outcome: str | None = typer.Option(None, "--outcome", help="Outcome column (with --panel)."),
        unit: str | None = typer.Option(None, "--unit", help="Unit column (with --panel)."),
        time: str | None = typer.Option(None, "--time", help="Period column (with --panel)."),
        units: int | None = typer.Option(None, "--units", help="Number of territories (default: the panel's)."),
        treated: int | None = typer.Option(None, "--treated", help="Number of treated territories."),
        treated_share: float | None = typer.Option(None, "--treated-share",
                                                   help="Share treated when --treated is not given (0.5)."),
        baseline_mean: float | None = typer.Option(None, "--baseline-mean", help="Mean monthly outcome."),
        sd: float | None = typer.Option(None, "--sd", help="Residual SD of the monthly outcome (around unit "
                                        "and month means)."),
        autocorrelation: float | None = typer.Option(None, "--autocorrelation",
                                                     help="Serial correlation of the residuals (AR(1) coefficient)."),
        correlation: str = typer.Option("ar1", "--correlation", help="ar1 | equicorrelated."),
        effect: float = typer.Option(-0.10, "--effect", help="Effect to detect: fraction of the baseline mean "
                                     "(-0.10 = 10 % drop), or outcome units with --absolute."),
        absolute: bool = typer.Option(False, "--absolute", help="--effect is in outcome units."),
        power: float = typer.Option(0.8, "--power", help="Target power."),
        alpha: float = typer.Option(0.05, "--alpha", help="Two-sided significance level."),
        pre_months: int = typer.Option(12, "--pre-months", help="Pre-intervention periods in the analysis."),
        months: int | None = typer.Option(None, "--months", help="Planned follow-up (e.g. until the "
                                          "authorisation ends): evaluated and flagged as sufficient or not."),
        max_months: int = typer.Option(120, "--max-months", help="Longest follow-up considered."),
        cluster_size: float = typer.Option(1.0, "--cluster-size", help="Units per assignment cluster."),
        icc: float = typer.Option(0.0, "--icc", help="Intra-cluster correlation for --cluster-size > 1."),
        simulate: int = typer.Option(0, "--simulate", min=0, help="Also simulate power with N placebo "
                                     "assignments on --panel."),
        seed: int = typer.Option(0, "--seed", help="Random seed for --simulate."),
        format_: str = typer.Option("text", "--format", help="text | json."),
    ) -> None:
        check_flag("format", format_, FORMATS)
        check_flag("correlation", correlation, Correlation)
        try:
            out = run_power(
                panel=panel, outcome=outcome, unit=unit, time=time, units=units, treated=treated,
                treated_share=treated_share, baseline_mean=baseline_mean, sd=sd, autocorrelation=autocorrelation,
                correlation=correlation, effect=effect, absolute=absolute, power=power, alpha=alpha,
                pre_months=pre_months, months=months, max_months=max_months, cluster_size=cluster_size, icc=icc,
                simulate=simulate, seed=seed,
            )
        except EngineInputError as exc:
            fail(str(exc))
        if format_ == "json":
            sys.stdout.write(json.dumps(out, allow_nan=False) + "\n")
        else:
            typer.echo(_text(out))
