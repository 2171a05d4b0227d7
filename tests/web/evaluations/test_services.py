"""Datasets (validation job, fingerprint, storage), runs (jobs, failure, cancel, reproducibility), publication."""

from __future__ import annotations

import io
import zipfile

import pandas as pd
import pytest
from django.core.exceptions import ValidationError

import tremplin
from tremplin.web.evaluations import services
from tremplin.web.evaluations.models import Dataset, Run, RunStatus
from tremplin.web.jobs.models import Job, JobStatus
from tremplin.web.jobs.services import JobCancelled, job_cancel, job_run

pytestmark = pytest.mark.django_db


def test_valid_dataset_is_validated_by_a_job_fingerprinted_and_stored_as_parquet(dataset, datasets_dir):
    assert dataset.status == "valid", dataset.report
    assert dataset.job.kind == "evaluations.validate_dataset" and dataset.job.status == JobStatus.SUCCEEDED
    assert len(dataset.fingerprint) == 64
    stored = datasets_dir / dataset.fingerprint
    assert stored.is_dir() and dataset.storage == dataset.fingerprint
    assert {p.name for p in stored.glob("*.parquet")} >= {"persons.parquet", "care_events.parquet"}
    assert dataset.rows["persons"] == 6000
    from tremplin.web.evaluations.storage import fingerprint

    assert fingerprint(stored) == dataset.fingerprint


def test_same_content_gives_same_fingerprint(dataset, evaluator, datasets_dir):
    again = services.dataset_register(name="Copie", server_path=str(datasets_dir / "sources" / "small"),
                                      user=evaluator, sync=True)
    assert again.pk != dataset.pk and again.fingerprint == dataset.fingerprint


def _zip(files: dict[str, str]) -> io.BytesIO:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
    buf.seek(0)
    buf.name = "donnees.zip"
    return buf


def test_invalid_upload_gives_located_errors_and_stores_nothing(small_region, evaluator, datasets_dir):
    import pyarrow.parquet as pq

    files = {}
    for name in ("territories", "persons", "observation_periods", "care_events"):
        frame = pq.read_table(small_region / f"{name}.parquet").slice(0, 50).to_pandas()
        files[f"data/{name}.csv"] = frame.to_csv(index=False)
    lines = files["data/persons.csv"].splitlines()
    cells = lines[3].split(",")
    cells[1] = "mille-neuf-cent"  # birth_year of the 3rd record (row 4 of the file)
    lines[3] = ",".join(cells)
    files["data/persons.csv"] = "\n".join(lines) + "\n"
    dataset = services.dataset_register(name="Cassé", upload=_zip(files), user=evaluator, sync=True)
    assert dataset.status == "invalid"
    assert dataset.report["total_errors"] >= 1
    located = [e for e in dataset.report["errors"] if e["file"].endswith("persons.csv") and e["row"] == 4]
    assert located and located[0]["column"] == "birth_year", dataset.report["errors"]
    assert not dataset.fingerprint
    assert not [p for p in datasets_dir.iterdir() if len(p.name) == 64]


def test_server_path_outside_the_allowed_root_is_refused(evaluator, tmp_path):
    with pytest.raises(ValidationError):
        services.dataset_register(name="Ailleurs", server_path=str(tmp_path), user=evaluator)
    with pytest.raises(ValidationError):
        services.dataset_register(name="Ailleurs", server_path="../..", user=evaluator)
    assert not Dataset.objects.exists()


def test_zip_with_parent_paths_is_refused(evaluator):
    with pytest.raises(ValidationError):
        services.dataset_register(name="Piège", upload=_zip({"../evil.csv": "x"}), user=evaluator)


def test_run_completes_as_a_job_and_records_provenance(run, plan, dataset):
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.job.status == JobStatus.SUCCEEDED and run.job.kind == "evaluations.run"
    assert run.dataset_fingerprint == dataset.fingerprint
    assert run.engine_version == tremplin.__version__
    assert run.params["outcome"] == "avoidable_hospitalisations" and run.params["period"] == "quarter"
    assert run.timings["total"] > 0 and run.started_at and run.finished_at
    h = run.result["headline"]
    assert h["ci_low"] < h["att"] < h["ci_high"]
    assert h["relative"] == pytest.approx(h["att"] / h["baseline"])
    assert run.result["diagnostics"]["treated_units"] >= 1
    plan.refresh_from_db()
    assert plan.locked_at is not None


def test_same_dataset_and_parameters_give_identical_results(run, plan, dataset, evaluator):
    again = services.run_launch(plan=plan, dataset=dataset, user=evaluator, period="quarter", sync=True)
    assert again.pk != run.pk and again.status == RunStatus.SUCCEEDED
    assert again.result == run.result
    other_period = services.run_launch(plan=plan, dataset=dataset, user=evaluator, period="month", sync=True)
    assert other_period.result["headline"] != run.result["headline"]


def test_a_failing_run_records_its_error(make_plan, dataset, evaluator):
    plan = make_plan(outcome="no_such_outcome")
    run = services.run_launch(plan=plan, dataset=dataset, user=evaluator, sync=True)
    assert run.status == RunStatus.FAILED
    assert "no_such_outcome" in run.error
    assert run.job.status == JobStatus.FAILED and "no_such_outcome" in run.job.error


def test_a_run_cancelled_before_it_starts_does_not_run(plan, dataset, evaluator):
    run = services.run_launch(plan=plan, dataset=dataset, user=evaluator)  # queued (no broker in tests)
    job_cancel(job=run.job)
    assert job_run(job_id=str(run.job_id)) == JobStatus.CANCELLED
    run = services.run_sync_status(run=Run.objects.get(pk=run.pk))
    assert run.status == RunStatus.CANCELLED and run.result is None


def test_a_running_run_stops_at_its_next_progress_report(plan, dataset, evaluator):
    run = services.run_launch(plan=plan, dataset=dataset, user=evaluator)
    Job.objects.filter(pk=run.job_id).update(status=JobStatus.RUNNING)
    calls = []

    def progress(fraction, message=""):
        calls.append(fraction)
        if fraction >= 0.5:  # the cancel button was pressed during the panel building
            raise JobCancelled

    with pytest.raises(JobCancelled):
        services.run_execute(run_id=run.pk, progress=progress)
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED and run.result is None
    assert max(calls) < 0.9  # the estimator and the report were never reached


def test_launch_refuses_an_unvalidated_dataset(plan, evaluator):
    pending = Dataset.objects.create(name="En attente", source="path", source_path="/nowhere")
    with pytest.raises(ValidationError):
        services.run_launch(plan=plan, dataset=pending, user=evaluator)


def test_publication_suppresses_every_count_under_eleven(run, evaluator):
    fake = Run(estimator="cs", engine_version="x", dataset_fingerprint="f", result={
        "outcome": "avoidable_hospitalisations", "headline": run.result["headline"], "trends": [
            {"group": g, "period": p, "period_start": f"2020-0{p}-01", "persons_at_risk": n, "events": e,
             "units": 2, "rate": 1000 * e / n}
            for g, p, n, e in [("treated", 1, 500, 4), ("treated", 2, 520, 30), ("treated", 3, 510, 25),
                               ("comparison", 1, 900, 40), ("comparison", 2, 910, 41), ("comparison", 3, 8, 12)]]})
    pub = services.publication_build(run=fake)
    counts = [t[k] for t in pub["trends"] for k in ("persons_at_risk", "events") if t[k] is not None]
    assert counts and min(counts) >= 11
    suppressed = {(t["group"], t["period"]) for t in pub["trends"] if t["rate"] is None}
    assert ("treated", 1) in suppressed and ("comparison", 3) in suppressed
    # complementary suppression: a hidden cell cannot be recovered from its row and column
    assert len(suppressed) >= 3


def test_publish_real_run(run, evaluator):
    services.run_publish(run=run, user=evaluator)
    run.refresh_from_db()
    assert run.is_published and run.publication["headline"] == run.result["headline"]
    frame = pd.DataFrame(run.publication["trends"])
    for column in ("persons_at_risk", "events"):
        shown = frame[column].dropna()
        assert (shown >= 11).all()
    assert "unit_id" not in frame.columns


def test_only_a_finished_run_can_be_published(plan, dataset, evaluator):
    queued = services.run_launch(plan=plan, dataset=dataset, user=evaluator)
    with pytest.raises(ValidationError):
        services.run_publish(run=queued, user=evaluator)
