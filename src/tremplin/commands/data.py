"""`tremplin generate`, `tremplin validate`, `tremplin panel`: care data from the terminal."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from tremplin.commands.flags import cli_text
from tremplin.engine.errors import EngineInputError

console = Console(stderr=True)
out = Console()


@contextmanager
def progress_bar(description: str) -> Iterator[Callable[[float, str], None]]:
    """A Rich progress bar driven by the engine's `progress(fraction, message)` callbacks."""
    with Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        task = bar.add_task(description, total=1.0)

        def update(fraction: float, message: str) -> None:
            bar.update(task, completed=max(0.0, min(1.0, fraction)), description=message)

        yield update


def _fail(message: str) -> None:
    console.print(f"[bold red]Error:[/bold red] {cli_text(message)}")
    raise typer.Exit(code=2)


def generate(
    out_dir: Path = typer.Argument(..., help="Directory to create (must be absent or empty)."),
    persons: int = typer.Option(..., "--persons", help="Number of persons in the region."),
    territories: int = typer.Option(..., "--territories", help="Number of territories (K)."),
    years: int = typer.Option(..., "--years", help="Years of follow-up (at least 2)."),
    seed: int = typer.Option(..., "--seed", help="Random seed: same seed, same data."),
    treated_share: float = typer.Option(0.3, "--treated-share", help="Share of territories with an intervention."),
    effect: float = typer.Option(-0.12, "--effect", help="Planted relative effect (e.g. -0.12 = -12 %)."),
    outcome: str = typer.Option("avoidable_hospitalisations", "--outcome", help="Outcome changed by the intervention."),
    effect_growth: float = typer.Option(
        0.0, "--effect-growth", help="Relative growth of the effect per year of exposure."
    ),
    cohort_heterogeneity: float = typer.Option(
        0.0, "--cohort-heterogeneity", help="Spread of the effect across cohorts (0 = same effect)."
    ),
    start_year: int = typer.Option(2019, "--start-year", help="First calendar year."),
    format: str = typer.Option("ours", "--format", help="ours (Parquet in our schema) or omop (OMOP CDM 5.4)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUT_DIR if it is not empty."),
) -> None:
    """Generate a synthetic region with staggered interventions and a planted effect.

    Writes territories, persons, observation_periods and care_events as Parquet, and truth.json
    (treated territories, start dates, true effect per cohort and month).

    Example: tremplin generate demo --persons 170000 --territories 1000 --years 5 --seed 1 --effect -0.12
    """
    from tremplin.engine.generator import generate_region  # noqa: PLC0415 -- slow import

    try:
        with progress_bar("Generating") as progress:
            result = generate_region(
                out_dir,
                persons=persons,
                territories=territories,
                years=years,
                seed=seed,
                treated_share=treated_share,
                effect=effect,
                outcome=outcome,
                effect_growth=effect_growth,
                cohort_heterogeneity=cohort_heterogeneity,
                start_year=start_year,
                format=format,  # type: ignore[arg-type]
                overwrite=overwrite,
                progress=progress,
            )
    except EngineInputError as exc:
        _fail(str(exc))
        return
    out.print(
        f"Wrote {result.events:,} events, {result.persons:,} persons, {result.territories:,} territories "
        f"({len(result.treated_territories)} treated) to {result.out_dir}; ground truth in {result.truth_path}."
    )


def validate(
    data_dir: Path = typer.Argument(..., help="Dataset directory (or an OMOP .duckdb file)."),
    format: str = typer.Option("auto", "--format", help="auto, ours or omop."),
    max_errors: int = typer.Option(20, "--max-errors", help="Number of problems to list (all are counted)."),
) -> None:
    """Check a dataset; every problem is located by file, row and column. Exit 0 if valid, 2 if not.

    Example: tremplin validate demo --max-errors 50
    """
    from tremplin.engine.validation import validate_dataset  # noqa: PLC0415 -- slow import

    try:
        with progress_bar("Validating") as progress:
            report = validate_dataset(data_dir, format=format, max_errors=max_errors, progress=progress)
    except EngineInputError as exc:
        _fail(str(exc))
        return
    for note in report.notes:
        out.print(f"[yellow]Note:[/yellow] {note}")
    if report.ok:
        out.print(f"[green]{report.summary()}[/green]")
        return
    table = Table(title=report.summary(), show_lines=False)
    for col in ("file", "row", "column", "problem"):
        table.add_column(col)
    for err in report.errors:
        table.add_row(err.file, "" if err.row is None else str(err.row), err.column or "", err.message)
    console.print(table)
    raise typer.Exit(code=2)


def panel(
    data_dir: Path = typer.Argument(..., help="Dataset directory (ours or OMOP)."),
    out_path: Path = typer.Option(..., "--out", help="Parquet file to write (one row per unit x period)."),
    unit: str = typer.Option("territory", "--unit", help="territory or parent (the territory's parent)."),
    period: str = typer.Option("month", "--period", help="month, quarter or year."),
    outcomes: str = typer.Option(None, "--outcomes", help="Comma-separated outcomes (default: the whole catalogue)."),
    engine: str = typer.Option("duckdb", "--engine", help="duckdb (default) or spark (local session)."),
    interventions: Path = typer.Option(
        None, "--interventions", help="CSV/Parquet with unit_id,start_date (default: DATA_DIR/truth.json)."
    ),
    format: str = typer.Option("auto", "--format", help="auto, ours or omop."),
) -> None:
    """Build the unit x period evaluation panel (persons at risk, outcomes, covariates, cohort).

    Example: tremplin panel demo --out panel.parquet --period month --outcomes avoidable_hospitalisations
    then: tremplin estimate panel.parquet --unit unit_id --time period --cohort cohort --outcome avoidable_hospitalisations
    """
    from tremplin.engine.panel import build_panel  # noqa: PLC0415 -- slow import

    try:
        with progress_bar("Building the panel") as progress:
            table = build_panel(
                data_dir,
                unit=unit,
                period=period,
                outcomes=outcomes,
                engine=engine,
                format=format,
                interventions=interventions,
                out=out_path,
                progress=progress,
            )
    except EngineInputError as exc:
        _fail(str(exc))
        return
    treated = len({u for u, c in zip(table["unit_id"].to_pylist(), table["cohort"].to_pylist(), strict=True) if c})
    out.print(
        f"Wrote {out_path}: {table.num_rows:,} rows, columns {', '.join(table.column_names)}; "
        f"{treated} treated unit(s)."
    )


def register(app: typer.Typer) -> None:
    """Add the data commands to the `tremplin` application."""
    app.command("generate")(generate)
    app.command("validate")(validate)
    app.command("panel")(panel)
