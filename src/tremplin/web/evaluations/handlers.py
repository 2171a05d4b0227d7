"""Background job handlers of the app (imported at app ready)."""

from __future__ import annotations

from tremplin.web.jobs.registry import job_handler


@job_handler("evaluations.validate_dataset")
def validate_dataset_job(params: dict, progress) -> dict:
    from tremplin.web.evaluations.services import dataset_validate

    return dataset_validate(dataset_id=int(params["dataset_id"]), progress=progress)


@job_handler("evaluations.run")
def run_job(params: dict, progress) -> dict:
    from tremplin.web.evaluations.services import run_execute

    return run_execute(run_id=int(params["run_id"]), progress=progress)
