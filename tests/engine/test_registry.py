"""The estimators' front door: one registry, one `estimate()`, one result interface, options declared once.

A sixth estimator (tests/estimators/tiny.py) registered by the test is offered by the command line like the
built-in ones, and gone once unregistered.
"""

from __future__ import annotations

import ast
import json
import math
import re
from pathlib import Path
from typing import get_args

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from tests.estimators.tiny import TINY
from tremplin.cli import app
from tremplin.engine import (
    EngineInputError,
    Estimate,
    EstimatorResult,
    Method,
    PanelSpec,
    estimate,
    estimator_for_design,
    estimators,
    get_estimator,
    register,
    unregister,
)
from tremplin.engine.options import check_choice

DATA = Path(__file__).resolve().parents[1] / "data" / "mpdta.csv"
SPEC = PanelSpec(outcome="lemp", unit="countyreal", time="year", cohort="first.treat")
runner = CliRunner()


@pytest.fixture
def one_cohort(tmp_path) -> tuple[pd.DataFrame, Path]:
    """mpdta with the 2006 cohort and the never-treated counties only (one adoption date)."""
    df = pd.read_csv(DATA)
    df = df[df["first.treat"].isin([0, 2006])].reset_index(drop=True)
    path = tmp_path / "one_cohort.csv"
    df.to_csv(path, index=False)
    return df, path


@pytest.fixture
def tiny():
    register(TINY)
    yield TINY
    unregister(TINY.name)


def hand_did(df: pd.DataFrame) -> float:
    """(treated after - treated before) - (never after - never before), from group means by hand."""
    treated, never = df[df["first.treat"] == 2006], df[df["first.treat"] == 0]

    def change(g):
        return g.loc[g.year >= 2006, "lemp"].mean() - g.loc[g.year < 2006, "lemp"].mean()

    return float(change(treated) - change(never))


def test_the_method_literal_lists_the_built_in_registry_in_order():
    assert tuple(e.name for e in estimators()) == get_args(Method)
    assert [e.name for e in estimators(evaluation_runs=True)] == ["twfe", "cs", "synth", "its"]
    assert estimator_for_design("synthetic_control").name == "synth" and estimator_for_design("other").name == "cs"
    assert get_estimator("cs").label("fr-fr").startswith("Différence de différences échelonnée")
    assert get_estimator("cs").label("de") == get_estimator("cs").title  # English when not translated


def long_series() -> tuple[pd.DataFrame, PanelSpec]:
    """Eight units over 30 periods, unit 0 treated from period 15 (effect -2): long enough for ITS."""
    rng = np.random.default_rng(0)
    rows = [{"u": u, "t": t, "y": 10 + u + 0.1 * t + rng.normal() - (2 if u == 0 and t >= 15 else 0),
             "g": 15 if u == 0 else 0} for u in range(8) for t in range(30)]
    return pd.DataFrame(rows), PanelSpec("y", "u", "t", cohort="g")


@pytest.mark.parametrize("method", get_args(Method))
def test_every_built_in_result_satisfies_the_interface(method, one_cohort):
    df, spec = (long_series() if method in ("synth", "its") else (one_cohort[0], SPEC))
    result = estimate(df, method=method, spec=spec)
    assert isinstance(result, EstimatorResult) and isinstance(result.att, Estimate)
    assert math.isfinite(result.att.estimate) and isinstance(result.warnings, tuple)
    contract = result.to_dict()
    assert json.loads(json.dumps(contract, allow_nan=False))["att"]["estimate"] == pytest.approx(result.att.estimate)
    assert result.outcome in result.summary()
    figures = result.figures()
    assert all(hasattr(f, "to_json") for f in figures.values())
    effect = get_estimator(method).effect_figure
    assert effect in figures or method in ("did", "twfe")  # the Bacon scatter needs several adoption dates
    assert all(isinstance(e.relative_period, int | float) for e in result.event_time())
    assert (result.pretrend_test() is not None) == get_estimator(method).pretrend_test


def test_the_front_door_checks_method_options_and_spec(one_cohort):
    df, _ = one_cohort
    with pytest.raises(EngineInputError, match="Invalid `method` 'magic': allowed values are 'did', 'twfe'"):
        estimate(df, method="magic", spec=SPEC)
    with pytest.raises(EngineInputError, match=r"Unknown Callaway–Sant'Anna option\(s\) \['bogus'\]; allowed: control"):
        estimate(df, method="cs", spec=SPEC, options={"bogus": 1})
    with pytest.raises(EngineInputError, match="Invalid `control` 'sometimes': allowed values are 'never', 'not-yet'"):
        estimate(df, method="cs", spec=SPEC, options={"control": "sometimes"})
    with pytest.raises(EngineInputError, match="PanelSpec"):
        estimate(df, method="cs", spec={"outcome": "lemp"})  # type: ignore[arg-type]
    with pytest.raises(EngineInputError, match="allowed values are 'a', 'b'"):
        check_choice("x", "c", ("a", "b"))


def test_a_sixth_estimator_registered_by_the_test_reaches_the_command_line(tiny, one_cohort, tmp_path):
    df, path = one_cohort
    expected = hand_did(df)
    assert "tiny" in [e.name for e in estimators()] and estimate(df, method="tiny", spec=SPEC).att.estimate == (
        pytest.approx(expected, abs=1e-12))
    base = ["estimate", str(path), "--outcome", "lemp", "--unit", "countyreal", "--time", "year", "--cohort",
            "first.treat", "--method", "tiny"]
    res = runner.invoke(app, [*base, "--format", "json"])
    assert res.exit_code == 0, res.output
    contract = json.loads(res.stdout)  # the JSON contract is the estimator's to_dict()
    assert contract["method"] == "tiny" and contract["att"]["estimate"] == pytest.approx(expected, abs=1e-12)
    assert contract["att"]["se"] is None  # NaN in the Estimate, null in JSON
    res = runner.invoke(app, [*base, "--plot", str(tmp_path / "plots.html")])
    assert res.exit_code == 0 and "Difference in differences of means" in res.stdout
    assert "1 plot(s) written" in res.stderr
    res = runner.invoke(app, [*base, "--bootstrap", "9"])  # an option it does not take: refused, listing its own
    assert res.exit_code == 2 and "Unknown tiny option(s) ['bootstrap']; allowed: seed." in res.stderr
    unregister("tiny")
    res = runner.invoke(app, [*base, "--format", "json"])
    assert res.exit_code == 2 and "allowed values are 'did', 'twfe', 'cs', 'synth', 'its'." in res.stderr


def test_registry_refuses_a_second_name_and_keeps_the_built_ins(tiny):
    with pytest.raises(ValueError, match="already registered"):
        register(TINY)
    with pytest.raises(ValueError, match="built-in"):
        unregister("cs")


def test_engine_messages_name_parameters_and_the_cli_prints_its_flags(one_cohort):
    """The engine says `treatment`, `method="cs"`; `tremplin estimate` says --treatment, --method cs."""
    df, path = one_cohort
    with pytest.raises(EngineInputError) as err:
        estimate(df.assign(d=df["treat"]), method="cs", spec=PanelSpec("lemp", "countyreal", "year", treatment="first.treat"))
    assert "goes with `cohort`." in str(err.value) and "--" not in str(err.value)
    res = runner.invoke(app, ["estimate", str(path), "--outcome", "lemp", "--unit", "countyreal", "--time", "year",
                              "--treatment", "first.treat"])
    assert res.exit_code == 2 and "goes with --cohort." in res.stderr
    stacked = pd.read_csv(DATA)
    twfe = estimate(stacked, method="did", spec=SPEC)
    assert any('`method="cs"`' in w for w in twfe.warnings)
    res = runner.invoke(app, ["estimate", str(DATA), "--outcome", "lemp", "--unit", "countyreal", "--time", "year",
                              "--cohort", "first.treat", "--method", "did", "--format", "json"])
    assert any("Use --method cs for cohort-size weights" in w for w in json.loads(res.stdout)["warnings"])


def test_no_engine_message_names_a_cli_flag():
    """Strings of the engine other than docstrings never spell a flag (--name): the CLI translates."""
    src = Path(__file__).resolve().parents[2] / "src" / "tremplin" / "engine"
    flag = re.compile(r"(?<![\w-])--[a-z]")
    offenders = []
    for path in src.rglob("*.py"):
        tree = ast.parse(path.read_text())
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef) and node.body
                      and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
        offenders += [f"{path.name}:{node.lineno}" for node in ast.walk(tree)
                      if isinstance(node, ast.Constant) and isinstance(node.value, str)
                      and id(node) not in docstrings and flag.search(node.value)]
    assert offenders == []


def test_synth_and_its_results_carry_estimates_and_warnings():
    df, spec = long_series()
    synth = estimate(df, method="synth", spec=spec, options={"leave_one_out": False})
    assert math.isnan(synth.att.se) and synth.att.p_value == synth.to_dict()["att"]["p_value"]
    assert synth.warnings and synth.to_dict()["notes"] == list(synth.warnings)  # the JSON key stays "notes"
    its = estimate(df, method="its", spec=spec)
    d = its.to_dict()["att"]
    assert (its.att.estimate, its.att.se, its.att.ci_low, its.att.p_value) == (
        d["estimate"], d["se"], d["ci_low"], d["p_value"])
