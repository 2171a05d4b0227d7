"""`tremplin funding ...`: the CLI contract on `tremplin generate` output (JSON keys, --run, --plot, exit code 2)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from tremplin.cli import app

runner = CliRunner()
MODELS = ["ffs", "capitation", "ipep", "mssp", "bundle", "personal_budget"]


@pytest.fixture(scope="module")
def region(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli-funding") / "region"
    res = runner.invoke(app, ["generate", str(out), "--persons", "8000", "--territories", "16", "--years", "3",
                              "--seed", "5", "--effect", "-0.3", "--treated-share", "0.5"])
    assert res.exit_code == 0, res.output
    return out


def invoke(*args: str):
    return runner.invoke(app, ["funding", *args])


def as_json(res) -> dict:
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def check_common(d: dict, model: str) -> None:
    assert d["model"] == model
    assert isinstance(d["parameters"], dict) and "programme_cost" in d["parameters"]
    assert {"persons", "years"} <= set(d["population"]) and d["population"]["years"] == 3
    rev = d["provider_revenue"]
    assert set(rev) == {"total", "by_sector", "by_organisation"}
    assert d["payer_cost"] == pytest.approx(rev["total"])
    assert sum(rev["by_organisation"].values()) == pytest.approx(rev["total"])
    assert sum(rev["by_sector"].values()) == pytest.approx(rev["total"])
    assert d["net_savings"] == pytest.approx(d["baseline"]["payer_cost"] - d["payer_cost"])


def test_models_lists_every_model_with_defaults_and_sources():
    d = as_json(invoke("models", "--format", "json"))
    assert [m["name"] for m in d["models"]] == MODELS
    for m in d["models"]:
        assert m["parameters"] and all(p["source"] and "default" in p for p in m["parameters"])
    ipep = next(m for m in d["models"] if m["name"] == "ipep")
    assert {p["name"]: p["default"] for p in ipep["parameters"]}["c_share"] == 0.5
    text = invoke("models")
    assert text.exit_code == 0 and "capitation" in text.stdout


@pytest.mark.parametrize("model", MODELS)
def test_simulate_json_contract(region, model):
    d = as_json(invoke("simulate", str(region), "--model", model, "--effect", "-0.12", "--format", "json"))
    check_common(d, model)
    assert d["effect"]["estimate"] == -0.12 and d["parameters"]["outcome"] == "avoidable_hospitalisations"
    assert d["population"]["persons"] > 7000


def test_simulate_with_parameters_file_and_programme_cost(region, tmp_path):
    params = tmp_path / "p.json"
    params.write_text(json.dumps({"cap": 0.1, "scope": "65+", "sharing": {"rule": "patients"}}))
    d = as_json(invoke("simulate", str(region), "--model", "capitation", "--params", str(params), "--effect", "-0.12",
                       "--programme-cost", "50000", "--format", "json"))
    check_common(d, "capitation")
    assert d["parameters"]["cap"] == 0.1 and d["parameters"]["scope"] == "65+"
    assert d["parameters"]["quality_bonus"] == 0.05  # defaults included
    assert d["parameters"]["sharing"]["rule"] == "patients"
    assert d["provider_revenue"]["by_organisation"]["programme"] == 50000


@pytest.mark.parametrize("model", ["ffs", "ipep", "capitation"])
def test_breakeven_then_simulate_there_gives_zero(region, model):
    d = as_json(invoke("breakeven", str(region), "--model", model, "--programme-cost", "30000", "--format", "json"))
    check_common(d, model)
    b = d["breakeven"]
    assert {"effect", "avoided_hospitalisations_per_year", "avoided_hospitalisations_per_day"} <= set(b)
    assert b["effect"] is not None and b["effect"] < 0.5
    assert b["avoided_hospitalisations_per_day"] == pytest.approx(b["avoided_hospitalisations_per_year"] / 365)
    s = as_json(invoke("simulate", str(region), "--model", model, "--effect", repr(b["effect"]), "--programme-cost",
                       "30000", "--format", "json"))
    assert s["net_savings"] == pytest.approx(0.0, abs=1e-4)


def test_montecarlo_json_contract_and_seed(region):
    args = ("montecarlo", str(region), "--model", "ipep", "--effect", "-0.12", "--effect-se", "0.05", "--draws",
            "20000", "--seed", "3", "--format", "json")
    d = as_json(invoke(*args))
    check_common(d, "ipep")
    mc = d["montecarlo"]
    assert {"draws", "mean_net_savings", "sd_net_savings", "p_payer_saves", "p_provider_loses", "quantiles"} <= set(mc)
    assert set(mc["quantiles"]) == {"0.05", "0.5", "0.95"} and mc["draws"] == 20000
    assert mc["quantiles"]["0.05"] < mc["quantiles"]["0.5"] < mc["quantiles"]["0.95"]
    assert 0 <= mc["p_payer_saves"] <= 1 and 0 <= mc["p_provider_loses"] <= 1
    assert as_json(invoke(*args))["montecarlo"] == mc


def test_sensitivity_json_and_self_contained_plot(region, tmp_path):
    plot = tmp_path / "tornado.html"
    d = as_json(invoke("sensitivity", str(region), "--model", "bundle", "--effect", "-0.12", "--effect-se", "0.05",
                       "--format", "json", "--plot", str(plot)))
    check_common(d, "bundle")
    names = [r["parameter"] for r in d["sensitivity"]["parameters"]]
    assert {"effect", "discount", "stop_loss", "stop_gain"} <= set(names)
    effect = next(r for r in d["sensitivity"]["parameters"] if r["parameter"] == "effect")
    assert (effect["low"], effect["high"]) == pytest.approx((-0.12 - 1.96 * 0.05, -0.12 + 1.96 * 0.05), abs=1e-4)
    # the contract's form, without an SE: the effect's range is the estimate +-50 %
    bare = as_json(invoke("sensitivity", str(region), "--model", "ipep", "--effect", "-0.12", "--format", "json"))
    check_common(bare, "ipep")
    effect = next(r for r in bare["sensitivity"]["parameters"] if r["parameter"] == "effect")
    assert (effect["low"], effect["high"]) == pytest.approx((-0.18, -0.06))
    assert {"c_share", "c_gap", "c_growth"} <= {r["parameter"] for r in bare["sensitivity"]["parameters"]}
    html = plot.read_text(encoding="utf-8")
    assert "Plotly.newPlot" in html and "<script src" not in html
    assert "plotly.js (basic - minified)" in html and not re.search(r"(?i)https?://[^\s\"']*cdn", html)


def test_run_reads_the_effect_of_tremplin_estimate(region, tmp_path):
    panel = tmp_path / "panel.parquet"
    res = runner.invoke(app, ["panel", str(region), "--out", str(panel), "--outcomes", "avoidable_hospitalisations"])
    assert res.exit_code == 0, res.output
    est = runner.invoke(app, ["estimate", str(panel), "--outcome", "avoidable_hospitalisations", "--unit", "unit_id",
                              "--time", "period", "--cohort", "cohort", "--format", "json"])
    assert est.exit_code == 0, est.output
    run = tmp_path / "run.json"
    run.write_text(est.stdout)
    att = json.loads(est.stdout)["att"]
    df = pd.read_parquet(panel)
    treated = df[df.cohort > 0]
    baseline = treated.loc[treated.period < treated.cohort, "avoidable_hospitalisations"].mean()
    d = as_json(invoke("montecarlo", str(region), "--model", "ffs", "--run", str(run), "--draws", "2000", "--seed", "1",
                       "--format", "json"))
    assert d["effect"]["estimate"] == pytest.approx(att["estimate"] / baseline)
    assert d["effect"]["se"] == pytest.approx(att["se"] / baseline)
    assert d["effect"]["outcome"] == "avoidable_hospitalisations" and d["montecarlo"]["distribution"] == "normal"
    s = as_json(invoke("simulate", str(region), "--model", "ffs", "--run", str(run), "--format", "json"))
    assert s["effect"]["estimate"] == pytest.approx(att["estimate"] / baseline)


@pytest.mark.parametrize(("args", "message"), [
    (("simulate", "{region}", "--model", "magic"), "allowed values: ffs, capitation, ipep, mssp, bundle, personal_budget"),
    (("simulate", "{region}", "--model", "ffs", "--outcome", "zz"), "allowed values: avoidable_hospitalisations"),
    (("simulate", "{region}", "--model", "ffs", "--format", "xml"), "allowed values: text, json"),
    (("simulate", "{region}", "--model", "ffs", "--params", "{params}"), "allowed: tariff_scale"),
    (("simulate", "{region}", "--model", "mssp", "--params", "{bad_value}"), "allowed values: one_sided, two_sided"),
    (("simulate", "{region}", "--model", "ffs", "--effect", "-1.5"), "at least -1"),
    (("montecarlo", "{region}", "--model", "ffs", "--effect", "-0.1", "--draws", "10", "--seed", "1"), "--effect-se"),
    (("montecarlo", "{region}", "--model", "ffs", "--effect", "-0.1", "--effect-se", "0.1", "--draws", "0",
      "--seed", "1"), "--draws must be at least 1"),
    (("simulate", "{region}", "--model", "ffs", "--run", "{missing}"), "run file not found"),
    (("simulate", "{region}", "--model", "ffs", "--run", "{params}", "--effect", "-0.1"), "either --run or --effect"),
    (("breakeven", "{region}", "--model", "ffs", "--programme-cost", "-5"), "non-negative"),
    (("simulate", "{nowhere}", "--model", "ffs"), "not found"),
])
def test_bad_input_exits_2_with_the_allowed_values(region, tmp_path, args, message):
    params = tmp_path / "params.json"
    params.write_text(json.dumps({"capp": 1}))
    bad_value = tmp_path / "bad.json"
    bad_value.write_text(json.dumps({"track": "three_sided"}))
    values = {"region": str(region), "params": str(params), "bad_value": str(bad_value),
              "missing": str(tmp_path / "missing.json"), "nowhere": str(tmp_path / "nowhere")}
    res = invoke(*[a.format(**values) for a in args])
    assert res.exit_code == 2, res.output
    assert message in res.stderr
    assert res.stdout == ""
