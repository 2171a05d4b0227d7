"""Demo data of the evaluations app: a generated region with a planted effect, registered and linked."""

from __future__ import annotations

from django.db import transaction

DEMO_DATASET_NAME = "Région de démonstration (effet planté −12 %)"
DEMO_OUTCOME = "avoidable_hospitalisations"
DEMO_OPTIONS = {"persons": 100_000, "territories": 20, "years": 3, "seed": 2, "treated_share": 0.3,
                "effect": -0.12, "outcome": DEMO_OUTCOME}


def demo_region_dir():
    from tremplin.web.evaluations.storage import datasets_dir

    return datasets_dir() / "sources" / "demo-region"


def demo_dataset(*, user=None, stdout=None):
    """Generate (once) the demo region and register it as a validated dataset; link it to the demo plans."""
    from tremplin.engine.generator import generate_region
    from tremplin.web.evaluations.models import Dataset, DatasetSource, DatasetStatus
    from tremplin.web.evaluations.services import dataset_link, dataset_validation_enqueue

    dataset = Dataset.objects.filter(name=DEMO_DATASET_NAME, status=DatasetStatus.VALID).first()
    if dataset is None:
        source = demo_region_dir()
        if not (source / "truth.json").is_file():
            generate_region(source, overwrite=True, **DEMO_OPTIONS)
        Dataset.objects.filter(name=DEMO_DATASET_NAME).delete()
        with transaction.atomic():
            dataset = Dataset.objects.create(
                name=DEMO_DATASET_NAME, source=DatasetSource.GENERATED, source_path=str(source), format="ours",
                created_by=user,
                description=("Données synthétiques : {persons} personnes, {territories} territoires, {years} ans ; "
                             "baisse plantée de 12 % des hospitalisations évitables dans les territoires "
                             "expérimentateurs (graine {seed}).").format(**DEMO_OPTIONS))
        dataset = dataset_validation_enqueue(dataset=dataset, user=user, sync=True)
    from tremplin.web.portfolio.models import EvaluationPlan

    linked = 0
    for plan in EvaluationPlan.objects.filter(primary_outcome=DEMO_OUTCOME).select_related("experiment"):
        dataset_link(dataset=dataset, experiment=plan.experiment)
        linked += 1
    if stdout is not None:
        stdout.write(f"evaluations: dataset {dataset.pk} ({dataset.get_status_display()}, "
                     f"{dataset.fingerprint[:12]}), linked to {linked} experiment(s)")
    return dataset
