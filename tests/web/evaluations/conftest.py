"""Fixtures: a small generated region (shared), a validated dataset, an experiment with its plan, personas."""

from __future__ import annotations

import shutil

import pytest

from tests.web.factories import OrganisationFactory
from tremplin.engine.generator import generate_region

SMALL = {"persons": 6000, "territories": 12, "years": 2, "seed": 5, "treated_share": 0.4, "effect": -0.12}


@pytest.fixture(scope="session")
def small_region(tmp_path_factory):
    out = tmp_path_factory.mktemp("evaluations") / "small-region"
    generate_region(out, **SMALL)
    return out


@pytest.fixture(autouse=True)
def datasets_dir(settings, tmp_path):
    settings.DATASETS_DIR = tmp_path / "datasets"
    settings.DATASETS_DIR.mkdir()
    return settings.DATASETS_DIR


@pytest.fixture
def evaluator(make_user):
    return make_user("evaluator", email="evaluatrice@example.org")


@pytest.fixture
def make_plan(db):
    def make(*, outcome: str = "avoidable_hospitalisations", design: str = "staggered", title: str = "Parcours IC"):
        from tremplin.web.portfolio.models import EvaluationPlan, Experiment

        experiment = Experiment.objects.create(title=title, lead_organisation=OrganisationFactory(),
                                               summary="Suivi à domicile des insuffisants cardiaques.")
        return EvaluationPlan.objects.create(experiment=experiment, primary_outcome=outcome, design=design,
                                             baseline_mean=1.0, baseline_sd=1.0, expand_criteria="baisse ≥ 5 %",
                                             stop_criteria="aucune baisse")

    return make


@pytest.fixture
def plan(make_plan):
    return make_plan()


@pytest.fixture
def dataset(small_region, datasets_dir, evaluator):
    from tremplin.web.evaluations import services

    source = datasets_dir / "sources" / "small"
    shutil.copytree(small_region, source)
    return services.dataset_register(name="Petite région", server_path=str(source), user=evaluator, sync=True)


@pytest.fixture
def run(plan, dataset, evaluator):
    from tremplin.web.evaluations import services

    return services.run_launch(plan=plan, dataset=dataset, user=evaluator, period="quarter", sync=True)
