"""`tremplin estimate`: JSON contract, text summaries, and exit code 2 with clear messages on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from tremplin.cli import app

DATA = Path(__file__).resolve().parents[1] / "data" / "mpdta.csv"
BASE = ["estimate", str(DATA), "--outcome", "lemp", "--unit", "countyreal", "--time", "year"]
runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, [*BASE, *args])


def test_cs_json_contract_and_published_att():
    res = run("--cohort", "first.treat", "--method", "cs", "--format", "json")
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)  # exactly one JSON object on stdout
    assert d["method"] == "cs" and d["outcome"] == "lemp"
    assert (d["n_units"], d["n_periods"], d["n_obs"]) == (500, 5, 2500)
    assert d["att"]["estimate"] == pytest.approx(-0.040, abs=5e-4)
    assert d["att"]["ci_low"] < d["att"]["estimate"] < d["att"]["ci_high"] < 0
    assert [e["relative_period"] for e in d["event_study"]] == [-3, -2, -1, 0, 1, 2, 3]
    assert [g["cohort"] for g in d["groups"]] == [2004, 2006, 2007]
    assert len(d["group_time"]) == 12
    assert 0 < d["pretrend_p_value"] < 1
    assert d["inference"]["n_clusters"] == 500


def test_console_script_subprocess():
    exe = Path(sys.executable).parent / "tremplin"
    out = subprocess.run(
        [str(exe), *BASE, "--cohort", "first.treat", "--method", "cs", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["att"]["estimate"] == pytest.approx(-0.040, abs=5e-4)


@pytest.mark.parametrize(
    "args",
    [
        ("--method", "cs", "--control", "not-yet", "--estimation", "ipw", "--covariates", "lpop"),
        ("--method", "cs", "--bootstrap", "199", "--seed", "4"),
        (
            "--method",
            "twfe",
        ),
        ("--method", "twfe", "--cluster", "treat", "--bootstrap", "99"),
    ],
)
def test_methods_json(args):
    res = run("--cohort", "first.treat", "--format", "json", *args)
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert set(d["att"]) >= {"estimate", "se", "ci_low", "ci_high", "p_value"}
    assert d["att"]["estimate"] < 0


def test_did_with_treatment_column(tmp_path):
    df = pd.read_csv(DATA)
    df = df[df["first.treat"].isin([0, 2006])].copy()
    df["d"] = ((df["first.treat"] > 0) & (df["year"] >= 2006)).astype(int)
    path = tmp_path / "p.parquet"
    df.to_parquet(path)
    res = runner.invoke(
        app,
        [
            "estimate",
            str(path),
            "--outcome",
            "lemp",
            "--unit",
            "countyreal",
            "--time",
            "year",
            "--treatment",
            "d",
            "--method",
            "did",
            "--format",
            "json",
        ],
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["method"] == "did"


def test_text_summary():
    res = run("--cohort", "first.treat")
    assert res.exit_code == 0
    assert "Callaway & Sant'Anna" in res.stdout and "Event study" in res.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--cohort", "nope"), "Unknown column 'nope' (cohort)"),
        (("--cohort", "first.treat", "--covariates", "lpop,zz"), "Unknown column 'zz'"),
        (("--cohort", "first.treat", "--method", "magic"), "Invalid --method 'magic': allowed values are 'did', 'twfe', 'cs', 'synth', 'its'."),
        (("--cohort", "first.treat", "--control", "sometimes"), "Invalid --control 'sometimes': allowed values are 'never', 'not-yet'."),
        (("--cohort", "first.treat", "--treatment", "treat"), "exactly one of --cohort"),
        (("--treatment", "first.treat"), "must be 0/1; found values 2004, 2006, 2007. A column of first treated"),
    ],
)
def test_bad_input_exits_2(args, message):
    res = run(*args)
    assert res.exit_code == 2
    assert message in res.stderr
    assert res.stdout == ""


def test_no_treated_unit_and_no_control_exit_2(tmp_path):
    df = pd.read_csv(DATA)
    df["never"] = 0
    df["all2006"] = 2006
    path = tmp_path / "p.csv"
    df.to_csv(path, index=False)
    base = ["estimate", str(path), "--outcome", "lemp", "--unit", "countyreal", "--time", "year"]
    res = runner.invoke(app, [*base, "--cohort", "never"])
    assert res.exit_code == 2 and "No treated unit" in res.stderr
    for method in ("cs", "twfe"):
        res = runner.invoke(app, [*base, "--cohort", "all2006", "--method", method])
        assert res.exit_code == 2 and "No control units" in res.stderr


def test_unbalanced_panel_exit_2(tmp_path):
    df = pd.read_csv(DATA).iloc[3:]
    path = tmp_path / "p.csv"
    df.to_csv(path, index=False)
    res = runner.invoke(
        app,
        [
            "estimate",
            str(path),
            "--outcome",
            "lemp",
            "--unit",
            "countyreal",
            "--time",
            "year",
            "--cohort",
            "first.treat",
        ],
    )
    assert res.exit_code == 2 and "Unbalanced panel" in res.stderr


def test_missing_file_exit_2():
    res = runner.invoke(
        app, ["estimate", "/nonexistent.csv", "--outcome", "y", "--unit", "u", "--time", "t", "--cohort", "g"]
    )
    assert res.exit_code == 2 and "not found" in res.stderr


def test_synth_through_the_registry():
    res = run("--cohort", "first.treat", "--method", "synth", "--format", "json")
    # mpdta has 191 treated counties in three cohorts: one synthetic control each, averaged
    assert res.exit_code == 0, res.output
    assert {"method", "att", "synth", "event_study"} <= set(json.loads(res.stdout))
