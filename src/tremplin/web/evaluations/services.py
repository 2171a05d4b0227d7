"""Writes: register and validate datasets, launch and execute runs, publish runs (after disclosure control)."""

from __future__ import annotations

import logging
import shutil
import tempfile
from datetime import timedelta
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


class DatasetValidationFailed(RuntimeError):
    """Validation stopped on something other than the data (its message names no server path)."""


class RunFailed(RuntimeError):
    """A run stopped with an error (its message names no server path)."""


INCOMING_GRACE = timedelta(hours=6)
"""An extraction folder without a dataset row is removed after this long (a registration may still be running)."""


def dataset_register(*, name: str, user, format: str = "ours", description: str = "", upload=None,
                     server_path: str = "", sync: bool = False) -> Dataset:
    """Register care data (a zip upload or a folder under the allowed root) and queue its validation.

    A refused archive leaves nothing behind (no dataset, no file); the raw files of an upload are deleted once
    its validation has ended, whatever the outcome (`dataset_incoming_purge` also removes those of a job that
    never finished, at the next registration).
    """
    if (upload is None) == (not server_path):
        raise ValidationError(_("Déposez une archive zip ou indiquez un dossier du serveur (l'un ou l'autre)."))
    path = storage.check_server_path(server_path) if server_path else None
    if upload is not None:
        dataset_incoming_purge()
    with transaction.atomic():
        dataset = Dataset.objects.create(
            name=name, description=description, format=format, created_by=user,
            source=DatasetSource.UPLOAD if upload is not None else DatasetSource.PATH,
            source_path=str(path) if path else getattr(upload, "name", ""),
        )
        if upload is not None:
            try:
                root = storage.extract_zip(upload, storage.incoming_dir(dataset.pk))
            except BaseException:
                shutil.rmtree(storage.incoming_dir(dataset.pk), ignore_errors=True)
                raise
            dataset.source_path = str(root)
            dataset.save(update_fields=["source_path"])
    return dataset_validation_enqueue(dataset=dataset, user=user, sync=sync)


def dataset_incoming_purge(*, grace: timedelta = INCOMING_GRACE) -> list[str]:
    """Delete the raw files of uploads whose validation is over (or was never recorded); returns the folders.

    Kept: the folder of a dataset pending or being validated by a job that has not finished, and any folder
    changed within `grace` (its dataset may not be committed yet).
    """
    root = storage.incoming_root()
    if not root.is_dir():
        return []
    from tremplin.web.jobs.models import FINISHED_STATUSES

    folders = {p.name: p for p in root.iterdir()}
    ids = [int(n) for n in folders if n.isdigit()]
    known = {str(pk) for pk in Dataset.objects.filter(pk__in=ids).values_list("pk", flat=True)}
    unfinished = Dataset.objects.filter(pk__in=ids, status__in=[DatasetStatus.PENDING, DatasetStatus.VALIDATING])
    waiting = set(unfinished.exclude(job__status__in=FINISHED_STATUSES).values_list("pk", flat=True))
    # A job that ended without its handler recording the outcome (its worker died too often, or it was cancelled
    # before it started): the dataset says so.
    unfinished.filter(job__status__in=FINISHED_STATUSES).update(
        status=DatasetStatus.FAILED, report={"ok": False, "failure": _("La validation ne s'est pas terminée.")})
    cutoff = timezone.now().timestamp() - grace.total_seconds()
    removed = []
    for name, folder in sorted(folders.items()):
        if name.isdigit() and int(name) in waiting:
            continue
        if name not in known and folder.stat().st_mtime > cutoff:
            continue
        if folder.is_dir() and not folder.is_symlink():
            shutil.rmtree(folder, ignore_errors=True)
        else:
            folder.unlink(missing_ok=True)
        removed.append(name)
    return removed


def dataset_validation_enqueue(*, dataset: Dataset, user, sync: bool = False) -> Dataset:
    from tremplin.web.jobs.services import job_enqueue

    job = job_enqueue(kind="evaluations.validate_dataset", params={"dataset_id": dataset.pk},
                      label=_("Validation de « %(name)s »") % {"name": dataset.name}, user=user, sync=sync)
    Dataset.objects.filter(pk=dataset.pk).update(job=job)
    dataset.refresh_from_db()
    return dataset


def _public_base(dataset: Dataset) -> tuple[Path, str]:
    """Where the names shown to users start from: the archive's content, or the registered folder."""
    if dataset.source == DatasetSource.UPLOAD:
        return storage.incoming_dir(dataset.pk), _("archive déposée")
    return Path(dataset.source_path), _("dossier")


def _public(dataset: Dataset, text: str) -> str:
    base, label = _public_base(dataset)
    return storage.public_text(str(text), base=base, label=label)


def _report_payload(dataset: Dataset, report) -> dict:
    return {
        "ok": report.ok,
        "format": report.format,
        "total_errors": report.total_errors,
        "errors": [{"file": _public(dataset, e.file), "row": e.row, "column": e.column,
                    "message": _public(dataset, e.message)} for e in report.errors],
        "notes": [_public(dataset, note) for note in report.notes],
    }


def _unreadable_payload(dataset: Dataset, source: Path, exc: Exception, fmt: str) -> dict | None:
    """The report of data that could not be read (a damaged Parquet file, bad input), or None for other errors."""
    from tremplin.engine.errors import EngineInputError

    base, _label = _public_base(dataset)
    damaged = storage.unreadable_parquet_files(source) if source.is_dir() else []
    prefix = source.resolve().relative_to(base.resolve()) if base.resolve() in source.resolve().parents else None
    errors = [{"file": (prefix / name).as_posix() if prefix else name, "row": None, "column": None,
               "message": _("fichier Parquet illisible (endommagé ou tronqué) : %(reason)s")
               % {"reason": _public(dataset, reason)}} for name, reason in damaged]
    if not errors and isinstance(exc, EngineInputError):
        errors = [{"file": "", "row": None, "column": None, "message": _public(dataset, str(exc))}]
    if not errors:
        return None
    return {"ok": False, "format": fmt, "total_errors": len(errors), "errors": errors, "notes": []}


def _discard_upload(dataset: Dataset) -> None:
    if dataset.source == DatasetSource.UPLOAD:
        shutil.rmtree(storage.incoming_dir(dataset.pk), ignore_errors=True)


def dataset_validate(*, dataset_id: int, progress) -> dict:
    """Validate a dataset and, if valid, store it as Parquet under DATASETS_DIR/<fingerprint> (idempotent).

    Data that cannot be read (a damaged Parquet file) makes the dataset invalid, with the file named inside the
    upload; no message shown to users carries a server path. An upload's raw files are deleted at the end.
    """
    from tremplin.engine.loaders import import_dataset

    dataset = Dataset.objects.get(pk=dataset_id)
    if dataset.status == DatasetStatus.VALID and dataset.fingerprint:
        return {"dataset_id": dataset.pk, "fingerprint": dataset.fingerprint, "ok": True}
    source = Path(dataset.source_path)
    if dataset.status in {DatasetStatus.INVALID, DatasetStatus.FAILED} and not source.exists():
        return {"dataset_id": dataset.pk, "ok": False}  # already reported, the upload's files deleted
    Dataset.objects.filter(pk=dataset.pk).update(status=DatasetStatus.VALIDATING)
    root = storage.datasets_dir()
    root.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(prefix=".import-", dir=root) as tmp:
            dest = Path(tmp) / "data"
            try:
                report = import_dataset(source, dest, format=dataset.format, max_errors=200,
                                        progress=lambda f, m: progress(0.9 * f, m))
            except Exception as exc:
                if type(exc).__name__ == "JobCancelled":
                    raise
                payload = _unreadable_payload(dataset, source, exc, dataset.format)
                if payload is None:
                    raise
                report = None
            else:
                payload = _report_payload(dataset, report)
            if report is None or not report.ok:
                Dataset.objects.filter(pk=dataset.pk).update(status=DatasetStatus.INVALID, report=payload,
                                                             rows=report.rows if report else {})
                _discard_upload(dataset)
                return {"dataset_id": dataset.pk, "ok": False, "total_errors": payload["total_errors"]}
            for side in storage.SIDE_FILES:
                if (source / side).is_file():
                    shutil.copy2(source / side, dest / side)
            progress(0.92, _("Calcul de l'empreinte"))
            fingerprint = storage.fingerprint(dest)
            final = root / fingerprint
            if not final.exists():
                dest.rename(final)
    except Exception as exc:
        cancelled = type(exc).__name__ == "JobCancelled"
        if cancelled:
            failure = _("Validation annulée.")
        elif storage.is_disk_full(exc):
            failure = storage.disk_full_message()
        else:
            failure = _public(dataset, f"{type(exc).__name__}: {exc}")
        Dataset.objects.filter(pk=dataset.pk).update(status=DatasetStatus.FAILED,
                                                     report={"ok": False, "failure": failure})
        _discard_upload(dataset)
        if cancelled:
            raise
        logger.exception("validation of dataset %s failed", dataset.pk)
        raise DatasetValidationFailed(failure) from None
    Dataset.objects.filter(pk=dataset.pk).update(status=DatasetStatus.VALID, fingerprint=fingerprint,
                                                 storage=fingerprint, report=payload, rows=report.rows,
                                                 validated_at=timezone.now())
    _discard_upload(dataset)
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


def _is_read_error(exc: BaseException | None) -> bool:
    """A file could not be read (DuckDB, Arrow or the system said so, maybe wrapped by the engine)."""
    import duckdb

    while exc is not None:
        if isinstance(exc, (duckdb.Error, pa.ArrowException, OSError)):
            return True
        exc = exc.__cause__
    return False


def _run_error(exc: Exception, data_dir: Path) -> str:
    """What a failed run shows: the damaged stored files if any (named in the dataset), never a server path."""
    damaged = storage.unreadable_parquet_files(data_dir) if _is_read_error(exc) and data_dir.is_dir() else []
    if damaged:
        text = _("Fichiers du jeu de données stocké illisibles (endommagés) : %(files)s. Déclarez à nouveau le jeu "
                 "de données.") % {"files": "; ".join(f"{name} ({reason})" for name, reason in damaged)}
    else:
        text = f"{type(exc).__name__}: {exc}"
    return storage.public_text(text, base=data_dir, label=_("jeu de données"))


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
        error = "" if cancelled else _run_error(exc, data_dir)
        Run.objects.filter(pk=run.pk).update(
            status=RunStatus.CANCELLED if cancelled else RunStatus.FAILED, finished_at=timezone.now(), error=error)
        if cancelled:
            raise
        logger.exception("run %s failed", run.pk)
        raise RunFailed(error) from None
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


