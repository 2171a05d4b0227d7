"""`tremplin estimate`: impact estimators on a panel (CSV or Parquet) with a stable JSON contract.

    tremplin estimate PANEL --outcome Y --unit U --time T (--cohort G | --treatment D)
        [--method did|twfe|cs|synth|its] [--control never|not-yet]
        [--estimation unconditional|or|ipw|dr] [--covariates A,B] [--cluster C]
        [--weights W] [--bootstrap N] [--seed S] [--format text|json]
        [--seasonality none|dummies|fourier] [--plot PLOTS.html]

Bad input (unknown column, no treated unit, no control, unbalanced panel where it matters, invalid option)
exits with code 2 and a one-line message on stderr. `--format json` prints exactly one JSON object.
"""

from __future__ import annotations

import importlib
import json
import sys
import warnings
from html import escape as html_escape
from pathlib import Path
from typing import Any

import typer

METHODS = ("did", "twfe", "cs", "synth", "its")
CONTROLS = ("never", "not-yet")
ESTIMATIONS = ("unconditional", "or", "ipw", "dr")
FORMATS = ("text", "json")
SEASONALITIES = ("none", "dummies", "fourier")
FEW_CLUSTERS_WEBB = 12  # below this many clusters the wild bootstrap uses Webb's six-point weights


def _fail(message: str) -> None:
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(code=2)


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        _fail(f"invalid --{name} {value!r}; allowed values: {', '.join(allowed)}.")


def run_estimate(
    panel: Path,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str | None,
    treatment: str | None,
    method: str,
    control: str,
    estimation: str,
    covariates: list[str],
    cluster: str | None,
    weights: str | None,
    bootstrap: int | None,
    seed: int,
    seasonality: str = "none",
) -> Any:
    """Dispatch to the estimator; returns a result with `summary()` and `to_dict()`."""
    from tremplin.engine.estimators.panel_input import load_panel

    data = load_panel(panel)
    common = {"outcome": outcome, "unit": unit, "time": time, "cohort": cohort, "treatment": treatment}
    if method == "cs":
        from tremplin.engine.estimators.staggered import callaway_santanna

        return callaway_santanna(data, **common, control=control, estimation=estimation, covariates=covariates,
                                 cluster=cluster, weights=weights, bootstrap=bootstrap, seed=seed)
    if method in ("twfe", "did"):
        from tremplin.engine.estimators.twfe import TwoWayFE

        wild = "rademacher"
        if bootstrap and cluster is not None and data[cluster].nunique() < FEW_CLUSTERS_WEBB:
            wild = "webb"
        return TwoWayFE(method=method, bootstrap=bootstrap, wild_weights=wild, seed=seed).fit(
            data, **common, covariates=covariates, weights=weights, cluster=cluster)

    module_name = {"synth": "tremplin.engine.estimators.synth", "its": "tremplin.engine.estimators.its"}[method]
    func_name = {"synth": "synthetic_control", "its": "interrupted_time_series"}[method]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            _fail(f"method {method!r} is not available in this installation ({module_name} is missing).")
        raise
    func = getattr(module, func_name, None)
    if func is None:
        _fail(f"method {method!r} is not available: {module_name}.{func_name} is missing.")
    options: dict[str, Any] = {}
    if covariates:
        options["covariates"] = covariates
    if bootstrap:
        options["bootstrap"] = bootstrap
    if method == "synth":
        options["seed"] = seed
    if method == "its" and seasonality != "none":
        options["seasonality"] = seasonality
    try:
        return func(data, **common, **options)
    except TypeError as exc:
        if "unexpected keyword" in str(exc):
            _fail(f"an option is not supported by method {method!r}: {exc}")
        raise


def result_figures(result: Any) -> list[Any]:
    """The Plotly figures a result offers: event study, group-time, gap and path plots, ITS fit, Bacon."""
    figures = []
    for name in ("plot_event_study", "plot_group_time", "plot_gaps", "plot_paths", "plot_fit"):
        method = getattr(result, name, None)
        if method is not None:
            figures.append(method())
    bacon = getattr(result, "bacon", None)
    if bacon is not None and hasattr(result, "plot_bacon"):
        figures.append(result.plot_bacon())
    return figures


PLOTLY_JS = Path(__file__).resolve().parents[1] / "web" / "static" / "tremplin" / "vendor" / "plotly.min.js"


def write_plots_html(result: Any, path: Path) -> int:
    """Write every figure of `result` to one self-contained HTML file.

    plotly.js is the platform's vendored basic bundle, embedded: the page opens offline and references no
    CDN (the full bundle shipped with the `plotly` package also carries map code pointing at tile servers).
    """
    figures = result_figures(result)
    return write_figures_html(figures, path, title=f"Tremplin — {getattr(result, 'outcome', '')}")


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


def register(app: typer.Typer) -> None:
    _keep_group_mode(app)

    @app.command("estimate")
    def estimate(
        panel: Path = typer.Argument(..., help="Long panel file (.csv or .parquet), one row per unit and period."),
        outcome: str = typer.Option(..., "--outcome", help="Outcome column."),
        unit: str = typer.Option(..., "--unit", help="Unit (territory, facility, ...) identifier column."),
        time: str = typer.Option(..., "--time", help="Period column."),
        cohort: str | None = typer.Option(
            None, "--cohort", help="Column with each unit's first treated period (0 or empty: never treated)."),
        treatment: str | None = typer.Option(None, "--treatment", help="0/1 treatment column (alternative to --cohort)."),
        method: str = typer.Option("cs", "--method", help="did | twfe | cs | synth | its."),
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
        from tremplin.engine.errors import EngineInputError

        _check_choice("method", method, METHODS)
        _check_choice("control", control, CONTROLS)
        _check_choice("estimation", estimation, ESTIMATIONS)
        _check_choice("format", format_, FORMATS)
        _check_choice("seasonality", seasonality, SEASONALITIES)
        if seasonality != "none" and method != "its":
            _fail("--seasonality applies to --method its only.")
        if (cohort is None) == (treatment is None):
            _fail("give exactly one of --cohort (first treated period) or --treatment (0/1 column).")
        covs = [c.strip() for c in covariates.split(",") if c.strip()] if covariates else []
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                result = run_estimate(
                    panel, outcome=outcome, unit=unit, time=time, cohort=cohort, treatment=treatment,
                    method=method, control=control, estimation=estimation, covariates=covs, cluster=cluster,
                    weights=weights, bootstrap=bootstrap or None, seed=seed, seasonality=seasonality)
        except EngineInputError as exc:
            _fail(str(exc))
        if plot is not None:
            n = write_plots_html(result, plot)
            typer.echo(f"{n} plot(s) written to {plot}", err=True)
        for w in caught:
            typer.echo(f"warning: {w.message}", err=True)
        if format_ == "json":
            sys.stdout.write(json.dumps(result.to_dict(), allow_nan=False) + "\n")
        else:
            typer.echo(result.summary())
