"""Writes: register and validate datasets, launch and execute runs, publish runs (after disclosure control)."""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

import tremplin
from tremplin.engine import estimator_for_design, estimators
from tremplin.web.evaluations import storage
from tremplin.web.evaluations.models import Dataset, DatasetSource, DatasetStatus, Run, RunStatus
from tremplin.web.portfolio.services import evaluation_plan_lock

logger = logging.getLogger(__name__)

PERIODS = ("month", "quarter", "year")
DISCLOSURE_THRESHOLD = 11


# --- Datasets ----------------------------------------------------------------------------------------------


def dataset_register(*, name: str, user, format: str = "ours", description: str = "", upload=None,
                     server_path: str = "", sync: bool = False) -> Dataset:
    """Register care data (a zip upload or a folder under the allowed root) and queue its validation."""
    if (upload is None) == (not server_path):
        raise ValidationError(_("Déposez une archive zip ou indiquez un dossier du serveur (l'un ou l'autre)."))
    path = storage.check_server_path(server_path) if server_path else None
    with transaction.atomic():
        dataset = Dataset.objects.create(
            name=name, description=description, format=format, created_by=user,
            source=DatasetSource.UPLOAD if upload is not None else DatasetSource.PATH,
            source_path=str(path) if path else getattr(upload, "name", ""),
        )
        if upload is not None:
            root = storage.extract_zip(upload, storage.incoming_dir(dataset.pk))
            dataset.source_path = str(root)
            dataset.save(update_fields=["source_path"])
    return dataset_validation_enqueue(dataset=dataset, user=user, sync=sync)


def dataset_validation_enqueue(*, dataset: Dataset, user, sync: bool = False) -> Dataset:
    from tremplin.web.jobs.services import job_enqueue

    job = job_enqueue(kind="evaluations.validate_dataset", params={"dataset_id": dataset.pk},
                      label=_("Validation de « %(name)s »") % {"name": dataset.name}, user=user, sync=sync)
    Dataset.objects.filter(pk=dataset.pk).update(job=job)
    dataset.refresh_from_db()
    return dataset


def dataset_validate(*, dataset_id: int, progress) -> dict:
    """Validate a dataset and, if valid, store it as Parquet under DATASETS_DIR/<fingerprint> (idempotent)."""
    from tremplin.engine.loaders import import_dataset

    dataset = Dataset.objects.get(pk=dataset_id)
    if dataset.status == DatasetStatus.VALID and dataset.fingerprint:
        return {"dataset_id": dataset.pk, "fingerprint": dataset.fingerprint, "ok": True}
    Dataset.objects.filter(pk=dataset.pk).update(status=DatasetStatus.VALIDATING)
    source = Path(dataset.source_path)
    root = storage.datasets_dir()
    root.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(prefix=".import-", dir=root) as tmp:
            dest = Path(tmp) / "data"
            report = import_dataset(source, dest, format=dataset.format, max_errors=200,
                                    progress=lambda f, m: progress(0.9 * f, m))
            payload = {
                "ok": report.ok,
                "format": report.format,
                "total_errors": report.total_errors,
                "errors": [{"file": e.file, "row": e.row, "column": e.column, "message": e.message}
                           for e in report.errors],
                "notes": list(report.notes),
            }
            if not report.ok:
                Dataset.objects.filter(pk=dataset.pk).update(status=DatasetStatus.INVALID, report=payload,
                                                             rows=report.rows)
                return {"dataset_id": dataset.pk, "ok": False, "total_errors": report.total_errors}
            for side in storage.SIDE_FILES:
                if (source / side).is_file():
                    shutil.copy2(source / side, dest / side)
            progress(0.92, _("Calcul de l'empreinte"))
            fingerprint = storage.fingerprint(dest)
            final = root / fingerprint
            if not final.exists():
                dest.rename(final)
    except Exception as exc:
        failure = (_("Validation annulée.") if type(exc).__name__ == "JobCancelled"
                   else f"{type(exc).__name__}: {exc}")
        Dataset.objects.filter(pk=dataset.pk).update(status=DatasetStatus.FAILED,
                                                     report={"ok": False, "failure": failure})
        raise
    Dataset.objects.filter(pk=dataset.pk).update(status=DatasetStatus.VALID, fingerprint=fingerprint,
                                                 storage=fingerprint, report=payload, rows=report.rows,
                                                 validated_at=timezone.now())
    if dataset.source == DatasetSource.UPLOAD:
        shutil.rmtree(storage.incoming_dir(dataset.pk), ignore_errors=True)
    progress(1.0, _("Jeu de données valide"))
    return {"dataset_id": dataset.pk, "ok": True, "fingerprint": fingerprint}


def dataset_link(*, dataset: Dataset, experiment) -> None:
    dataset.experiments.add(experiment)


# --- Runs --------------------------------------------------------------------------------------------------


def _plan_interventions(plan, data_dir: Path) -> list[dict] | None:
    """Treated units and start date from the plan, matched to the dataset's territories by code.

    None when the plan's territories are not in the dataset (or no start date): the dataset's own
    interventions file (or the generator's truth.json) is used instead, and the run says so.
    """
    start = plan.experiment.start_date
    codes = set(plan.treated_territories.values_list("code", flat=True))
    if not start or not codes:
        return None
    territories = pq.read_table(data_dir / "territories.parquet", columns=["territory_id", "code"]).to_pylist()
    units = sorted(int(t["territory_id"]) for t in territories if t["code"] in codes)
    if not units:
        return None
    return [{"unit_id": u, "start_date": start.isoformat()} for u in units]


def run_launch(*, plan, dataset: Dataset, user, estimator: str | None = None, period: str = "quarter",
               seed: int = 0, bootstrap: int | None = None, sync: bool = False) -> Run:
    """Record a run (dataset fingerprint, parameters, engine version), lock the plan, queue the job."""
    if not dataset.is_valid:
        raise ValidationError(_("Le jeu de données n'est pas validé."))
    estimator = estimator or estimator_for_design(plan.design).name
    if estimator not in {e.name for e in estimators(evaluation_runs=True)}:
        raise ValidationError(_("Estimateur inconnu : %(value)s.") % {"value": estimator})
    if period not in PERIODS:
        raise ValidationError(_("Période inconnue : %(value)s.") % {"value": period})
    data_dir = storage.stored_path(dataset.storage)
    interventions = _plan_interventions(plan, data_dir)
    params = {
        "outcome": plan.primary_outcome,
        "period": period,
        "seed": int(seed),
        "bootstrap": bootstrap,
        "control": "never",
        "unit": "territory",
        "interventions": interventions,
        "interventions_source": "plan" if interventions else "dataset",
    }
    from tremplin.web.jobs.services import job_enqueue

    with transaction.atomic():
        run = Run.objects.create(plan=plan, dataset=dataset, dataset_fingerprint=dataset.fingerprint,
                                 estimator=estimator, params=params, engine_version=tremplin.__version__,
                                 created_by=user)
        evaluation_plan_lock(plan=plan)
        job = job_enqueue(kind="evaluations.run", params={"run_id": run.pk},
                          label=_("Évaluation : %(plan)s") % {"plan": plan}, user=user)
        Run.objects.filter(pk=run.pk).update(job=job)
    if sync:
        from tremplin.web.jobs.services import job_run

        job_run(job_id=str(job.pk))
    run.refresh_from_db()
    return run


def run_execute(*, run_id: int, progress) -> dict:
    """Job body: panel + estimator + inference on the stored dataset. Idempotent (a finished run is kept)."""
    from tremplin.web.evaluations.analysis import run_analysis

    run = Run.objects.select_related("dataset").get(pk=run_id)
    if run.status == RunStatus.SUCCEEDED:
        return {"run_id": run.pk, "status": run.status}
    data_dir = storage.stored_path(run.dataset.storage)
    if run.dataset.fingerprint != run.dataset_fingerprint or not data_dir.is_dir():
        raise ValueError("The dataset changed or is missing since the run was launched.")
    Run.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, started_at=timezone.now(), error="",
                                         finished_at=None)
    p = run.params
    from tremplin.web.evaluations.presentation import outcome_label

    labels = {"treated": _("Territoires expérimentateurs"), "comparison": _("Territoires de comparaison"),
              "period": _("Période"), "outcome": outcome_label(p["outcome"])}
    try:
        with tempfile.TemporaryDirectory(prefix="tremplin-run-") as tmp:
            interventions = None
            if p.get("interventions"):
                interventions = Path(tmp) / "interventions.parquet"
                frame = pd.DataFrame(p["interventions"])
                frame["start_date"] = pd.to_datetime(frame["start_date"]).dt.date
                pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), interventions)
            result, timings = run_analysis(data_dir, outcome=p["outcome"], estimator=run.estimator,
                                           period=p["period"], interventions=interventions, seed=p["seed"],
                                           bootstrap=p.get("bootstrap"), control=p.get("control", "never"),
                                           progress=progress, labels=labels)
    except Exception as exc:
        cancelled = type(exc).__name__ == "JobCancelled"
        Run.objects.filter(pk=run.pk).update(
            status=RunStatus.CANCELLED if cancelled else RunStatus.FAILED, finished_at=timezone.now(),
            error="" if cancelled else f"{type(exc).__name__}: {exc}")
        raise
    Run.objects.filter(pk=run.pk).update(status=RunStatus.SUCCEEDED, result=result, timings=timings,
                                         finished_at=timezone.now())
    return {"run_id": run.pk, "status": RunStatus.SUCCEEDED, "att": result["headline"]["att"]}


def run_sync_status(*, run: Run) -> Run:
    """Align a run with its job when the job ended without the handler recording it (cancelled before start)."""
    from tremplin.web.jobs.models import JobStatus

    if run.job is not None and not run.is_finished and run.job.status in {JobStatus.CANCELLED, JobStatus.FAILED}:
        status = RunStatus.CANCELLED if run.job.status == JobStatus.CANCELLED else RunStatus.FAILED
        Run.objects.filter(pk=run.pk).update(status=status, finished_at=run.job.finished_at or timezone.now(),
                                             error=run.error or run.job.error)
        run.refresh_from_db()
    return run


# --- Publication -------------------------------------------------------------------------------------------


def publication_build(*, run: Run, threshold: int = DISCLOSURE_THRESHOLD) -> dict:
    """What may be published: aggregate estimates, and group x period counts under disclosure control.

    Persons at risk and events per group and period go through the engine's small-cell suppression
    (cells under `threshold`, zeros included, plus complementary cells); a trend rate is published only
    where both of its counts are. No individual or unit-level row is ever published.
    """
    from tremplin.engine.disclosure import suppress_small_cells

    result = run.result or {}
    trends = pd.DataFrame(result.get("trends", []))
    published_trends = []
    explanations = []
    if not trends.empty:
        kept = {}
        for count in ("persons_at_risk", "events"):
            wide = trends.pivot_table(index="group", columns="period", values=count, aggfunc="sum", fill_value=0)
            suppression = suppress_small_cells(wide.astype("int64"), threshold=threshold, suppress_zeros=True)
            explanations.append(suppression.explain())
            kept[count] = suppression.published
        for row in trends.to_dict(orient="records"):
            values = {}
            for count in ("persons_at_risk", "events"):
                cell = kept[count].loc[row["group"], row["period"]]
                values[count] = None if pd.isna(cell) else int(cell)
            visible = values["persons_at_risk"] is not None and values["events"] is not None
            published_trends.append({
                "group": row["group"], "period": int(row["period"]), "period_start": row["period_start"],
                "persons_at_risk": values["persons_at_risk"], "events": values["events"],
                "rate": float(row["rate"]) if visible else None,
            })
    diagnostics = dict(result.get("diagnostics", {}))
    return {
        "threshold": threshold,
        "outcome": result.get("outcome"),
        "estimator": run.estimator,
        "period": result.get("period"),
        "headline": result.get("headline"),
        "p_value": result.get("p_value"),
        "event_study": result.get("event_study", []),
        "trends": published_trends,
        "diagnostics": {k: diagnostics.get(k) for k in ("treated_units", "comparison_units", "periods",
                                                          "pretrend_p_value", "few_clusters", "pretrend_rejected",
                                                          "pretrend_band_checked", "pretrend_band_rejected")},
        "disclosure": explanations,
        "engine_version": run.engine_version,
        "dataset_fingerprint": run.dataset_fingerprint,
    }


def run_publish(*, run: Run, user) -> Run:
    if run.status != RunStatus.SUCCEEDED:
        raise ValidationError(_("Seule une évaluation terminée peut être publiée."))
    run.publication = publication_build(run=run)
    run.published_at = timezone.now()
    run.published_by = user
    run.save(update_fields=["publication", "published_at", "published_by"])
    return run


def run_unpublish(*, run: Run) -> Run:
    run.publication = None
    run.published_at = None
    run.published_by = None
    run.save(update_fields=["publication", "published_at", "published_by"])
    return run


