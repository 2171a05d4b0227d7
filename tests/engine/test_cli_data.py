"""The `tremplin generate / validate / panel` contract, through the real Typer application."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
from typer.testing import CliRunner

from tremplin.cli import app

runner = CliRunner()


def test_generate_validate_panel(tmp_path):
    data, out = tmp_path / "region", tmp_path / "panel.parquet"
    result = runner.invoke(
        app,
        [
            "generate",
            str(data),
            "--persons",
            "800",
            "--territories",
            "6",
            "--years",
            "2",
            "--seed",
            "3",
            "--treated-share",
            "0.5",
            "--effect",
            "-0.12",
            "--outcome",
            "avoidable_hospitalisations",
        ],
    )
    assert result.exit_code == 0, result.output
    assert (data / "truth.json").is_file()
    result = runner.invoke(app, ["validate", str(data), "--format", "ours", "--max-errors", "5"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        app,
        [
            "panel",
            str(data),
            "--out",
            str(out),
            "--unit",
            "territory",
            "--period",
            "quarter",
            "--outcomes",
            "avoidable_hospitalisations,cost_per_capita",
            "--engine",
            "duckdb",
        ],
    )
    assert result.exit_code == 0, result.output
    df = pq.read_table(out).to_pandas()
    assert list(df.columns[:4]) == ["unit_id", "period", "period_start", "persons_at_risk"]
    assert {"avoidable_hospitalisations", "cost_per_capita", "cohort"} <= set(df.columns)
    truth = json.loads((data / "truth.json").read_text())
    treated = {i["territory_id"] for i in truth["interventions"]}
    assert set(df.loc[df.cohort > 0, "unit_id"]) == treated


def test_validate_exits_2_and_lists_first_problems(tmp_path):
    data = tmp_path / "region"
    assert (
        runner.invoke(
            app, ["generate", str(data), "--persons", "300", "--territories", "3", "--years", "2", "--seed", "1"]
        ).exit_code
        == 0
    )
    (data / "persons.parquet").unlink()
    result = runner.invoke(app, ["validate", str(data), "--max-errors", "3"])
    assert result.exit_code == 2
    assert "persons" in result.output


def test_bad_options_exit_2_with_allowed_values(tmp_path):
    result = runner.invoke(
        app,
        [
            "generate",
            str(tmp_path / "x"),
            "--persons",
            "10",
            "--territories",
            "2",
            "--years",
            "2",
            "--seed",
            "1",
            "--outcome",
            "nope",
        ],
    )
    assert result.exit_code == 2
    assert "allowed" in result.output
    result = runner.invoke(app, ["panel", str(tmp_path / "missing"), "--out", str(tmp_path / "p.parquet")])
    assert result.exit_code == 2
    assert not (tmp_path / "p.parquet").exists()


def test_help_has_examples():
    for command in ("generate", "validate", "panel"):
        result = runner.invoke(app, [command, "--help"])
        assert result.exit_code == 0
        assert "Example" in result.output
