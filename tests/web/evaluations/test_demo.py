"""The demo: a generated region with a planted −12 % effect; an evaluation recovers it within its CI."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from tremplin.web.evaluations import services
from tremplin.web.evaluations.demo import DEMO_OPTIONS, demo_region_dir
from tremplin.web.evaluations.models import Dataset, RunStatus

pytestmark = pytest.mark.django_db


def test_demo_dataset_is_idempotent_linked_and_the_planted_effect_is_recovered(make_plan, evaluator):
    plan = make_plan()  # primary outcome: avoidable hospitalisations
    call_command("demo_evaluations")
    call_command("demo_evaluations")
    dataset = Dataset.objects.get()
    assert dataset.is_valid and dataset.rows["persons"] == DEMO_OPTIONS["persons"]
    assert list(dataset.experiments.all()) == [plan.experiment]

    run = services.run_launch(plan=plan, dataset=dataset, user=evaluator, period="quarter", sync=True)
    assert run.status == RunStatus.SUCCEEDED, run.error
    h = run.result["headline"]
    planted = DEMO_OPTIONS["effect"]
    assert h["relative_ci_low"] <= planted <= h["relative_ci_high"], h
    # The absolute effect agrees with the generator's ground truth (events removed by the intervention).
    truth = json.loads((demo_region_dir() / "truth.json").read_text())
    assert truth["effect"] == planted
    assert h["ci_low"] < 0 < h["baseline"]
