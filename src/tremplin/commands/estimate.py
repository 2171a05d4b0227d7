"""`tremplin estimate`: impact estimators on a panel (CSV or Parquet) with a stable JSON contract.

    tremplin estimate PANEL --outcome Y --unit U --time T (--cohort G | --treatment D)
        [--method did|twfe|cs|synth|its] [--control never|not-yet]
        [--estimation unconditional|or|ipw|dr] [--covariates A,B] [--cluster C]
        [--weights W] [--bootstrap N] [--seed S] [--format text|json]
        [--seasonality none|dummies|fourier] [--plot PLOTS.html]

The methods are the engine's registered estimators (`tremplin.engine.estimators()`), run through its one
front door, `tremplin.engine.estimate`. Bad input (unknown column, no treated unit, no control, unbalanced
panel where it matters, invalid option) exits with code 2 and a one-line message on stderr. `--format json`
prints exactly one JSON object: the result's `to_dict()`.
"""

from __future__ import annotations

import json
import sys
import warnings
from dataclasses import dataclass
from html import escape as html_escape
from pathlib import Path
from typing import Any

import typer

from tremplin.commands.flags import check_flag, cli_result, cli_text, fail
from tremplin.engine import DEFAULT_METHOD, EngineInputError, Estimator, PanelSpec, estimate, estimators, get_estimator
from tremplin.engine.options import Control, Estimation, Seasonality

FORMATS = ("text", "json")
FEW_CLUSTERS_WEBB = 12  # below this many clusters the wild bootstrap uses Webb's six-point weights


@dataclass(frozen=True)
class MethodFlags:
    """The flags of `tremplin estimate` that become a method's options."""

    control: str = "never"
    estimation: str = "dr"
    covariates: tuple[str, ...] = ()
    cluster: str | None = None
    weights: str | None = None
    bootstrap: int | None = None
    seed: int = 0
    seasonality: str = "none"

    def options_for(self, estimator: Estimator, data: Any) -> dict[str, Any]:
        """The method's options from the flags.

        A flag with a default (--control, --estimation, --cluster, --weights, --seed) is passed to the methods
        that take it; one the user asked for (--covariates, --bootstrap, --seasonality) is passed to any
        method, which refuses it when it has no such option. With few clusters the wild bootstrap of the
        methods that offer it uses Webb's weights.
        """
        declared = estimator.options
        options: dict[str, Any] = {name: getattr(self, name) for name in
                                   ("control", "estimation", "cluster", "weights", "seed") if name in declared}
        if self.covariates:
            options["covariates"] = list(self.covariates)
        if self.bootstrap:
            options["bootstrap"] = self.bootstrap
        if self.seasonality != "none":
            options["seasonality"] = self.seasonality
        if (self.bootstrap and "wild_weights" in declared and self.cluster is not None
                and self.cluster in data.columns and data[self.cluster].nunique() < FEW_CLUSTERS_WEBB):
            options["wild_weights"] = "webb"
        return options


def run_estimate(panel: Path, *, spec: PanelSpec, method: str, flags: MethodFlags) -> Any:
    """Read the panel file and run the registered `method` on it; returns an `EstimatorResult`."""
    from tremplin.engine.estimators.panel_input import load_panel  # noqa: PLC0415 -- slow import

    data = load_panel(panel)
    return estimate(data, method=method, spec=spec, options=flags.options_for(get_estimator(method), data))


PLOTLY_JS = Path(__file__).resolve().parents[1] / "web" / "static" / "tremplin" / "vendor" / "plotly.min.js"


def write_plots_html(result: Any, path: Path) -> int:
    """Write every figure of `result` to one self-contained HTML file.

    plotly.js is the platform's vendored basic bundle, embedded: the page opens offline and references no
    CDN (the full bundle shipped with the `plotly` package also carries map code pointing at tile servers).
    """
    figures = list(result.figures().values())
    return write_figures_html(figures, path, title=f"Tremplin — {result.outcome}")


def write_figures_html(figures: list[Any], path: Path, *, title: str) -> int:
    """Write Plotly figures to one self-contained HTML page, the vendored plotly.js embedded (no CDN)."""
    parts = [fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False}) for fig in figures]
    html = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html_escape(title)}</title>"
            f"<script>{PLOTLY_JS.read_text(encoding='utf-8')}</script></head><body>"
            + "".join(parts) + "</body></html>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return len(figures)


def _keep_group_mode(app: typer.Typer) -> None:
    """Typer runs a lone command as the whole program; a no-op callback keeps `tremplin estimate` a subcommand
    even while it is the only registered command (another module may install its own callback later)."""
    if app.registered_callback is None:

        @app.callback()
        def _main() -> None:
            pass


def _methods() -> tuple[str, ...]:
    return tuple(e.name for e in estimators())


def register(app: typer.Typer) -> None:
    _keep_group_mode(app)
    methods_help = " | ".join(_methods()) + "."

    @app.command("estimate")
    def estimate_command(
        panel: Path = typer.Argument(..., help="Long panel file (.csv or .parquet), one row per unit and period."),
        outcome: str = typer.Option(..., "--outcome", help="Outcome column."),
        unit: str = typer.Option(..., "--unit", help="Unit (territory, facility, ...) identifier column."),
        time: str = typer.Option(..., "--time", help="Period column."),
        cohort: str | None = typer.Option(
            None, "--cohort", help="Column with each unit's first treated period (0 or empty: never treated)."),
        treatment: str | None = typer.Option(None, "--treatment", help="0/1 treatment column (alternative to --cohort)."),
        method: str = typer.Option(DEFAULT_METHOD, "--method", help=methods_help),
        control: str = typer.Option("never", "--control", help="Control group for cs: never | not-yet."),
        estimation: str = typer.Option("dr", "--estimation", help="cs estimation: unconditional | or | ipw | dr."),
        covariates: str | None = typer.Option(None, "--covariates", help="Comma-separated covariate columns."),
        cluster: str | None = typer.Option(None, "--cluster", help="Cluster column (default: the unit)."),
        weights: str | None = typer.Option(None, "--weights", help="Unit weight column."),
        bootstrap: int | None = typer.Option(
            None, "--bootstrap", min=0,
            help="Bootstrap draws: multiplier bootstrap SEs (cs) or wild cluster bootstrap p-value (did/twfe)."),
        seed: int = typer.Option(0, "--seed", help="Random seed (bootstrap, bands, permutations)."),
        format_: str = typer.Option("text", "--format", help="text | json."),
        seasonality: str = typer.Option(
            "none", "--seasonality", help="its only: none | dummies | fourier (seasons of 12 periods)."),
        plot: Path | None = typer.Option(
            None, "--plot", help="Also write the result's plots (event study, gaps, ITS fit...) to this HTML file."),
    ) -> None:
        """Estimate the impact of a treatment on a panel (DiD, TWFE, Callaway–Sant'Anna, synth, ITS).

        Several treated units with staggered starts work with every method: cs natively, synth by one
        synthetic control per treated unit averaged in event time, its by one regression per start pooled.

        Examples (a panel from `tremplin panel`):

          tremplin estimate panel.parquet --outcome avoidable_hospitalisations --unit unit_id --time period --cohort cohort

          tremplin estimate panel.parquet ... --method synth --plot synth.html

          tremplin estimate panel.parquet ... --method its --seasonality dummies --format json
        """
        check_flag("method", method, _methods())
        check_flag("control", control, Control)
        check_flag("estimation", estimation, Estimation)
        check_flag("format", format_, FORMATS)
        check_flag("seasonality", seasonality, Seasonality)
        if seasonality != "none" and "seasonality" not in get_estimator(method).options:
            takers = " | ".join(e.name for e in estimators() if "seasonality" in e.options)
            fail(f"--seasonality applies to --method {takers} only.")
        if (cohort is None) == (treatment is None):
            fail("give exactly one of --cohort (first treated period) or --treatment (0/1 column).")
        covs = tuple(c.strip() for c in covariates.split(",") if c.strip()) if covariates else ()
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                result = run_estimate(
                    panel, spec=PanelSpec(outcome=outcome, unit=unit, time=time, cohort=cohort, treatment=treatment),
                    method=method, flags=MethodFlags(control=control, estimation=estimation, covariates=covs,
                                                     cluster=cluster, weights=weights, bootstrap=bootstrap or None,
                                                     seed=seed, seasonality=seasonality))
        except EngineInputError as exc:
            fail(str(exc))
        if plot is not None:
            n = write_plots_html(result, plot)
            typer.echo(f"{n} plot(s) written to {plot}", err=True)
        for w in caught:
            typer.echo(f"warning: {cli_text(str(w.message))}", err=True)
        if format_ == "json":
            sys.stdout.write(json.dumps(cli_result(result.to_dict()), allow_nan=False) + "\n")
        else:
            typer.echo(cli_text(result.summary()))
