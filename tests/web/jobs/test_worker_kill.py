"""At-least-once delivery with a real django-q2 cluster: a worker killed (SIGKILL) in the middle of a job
is replaced by another cluster, which runs the job again; the job ends succeeded exactly once, with one output
and no duplicated result.

The scenarios run in subprocesses (`manage.py migrate`, `manage.py shell -c`, `manage.py qcluster`) on an
installation of their own (tests/web/installation.py: a SQLite file, or a fresh database on the suite's PostgreSQL
server). The job's state is polled read-only with a plain DB-API connection.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.web.installation import MANAGE, Installation

STEPS, DELAY = 16, 0.25  # the counting job runs ~4 s
Q_TIMEOUT, Q_RETRY = 12, 13  # a delivery not acknowledged within Q_RETRY seconds is delivered again
DEADLINE = 90  # seconds, for each wait
CLUSTER_ENV = {"Q_TIMEOUT": str(Q_TIMEOUT), "Q_RETRY": str(Q_RETRY), "Q_POLL": "0.2", "Q_WORKERS": "1",
               "Q_LOG_LEVEL": "INFO"}


class Scenario(Installation):
    """An installation with qcluster processes and one job to watch."""

    def __init__(self, tmp_path: Path):
        super().__init__(tmp_path, "worker", **CLUSTER_ENV)
        self.logs: list[Path] = []
        self.clusters: list[subprocess.Popen] = []
        self.job_id = None

    def start_cluster(self, name: str) -> subprocess.Popen:
        """`manage.py qcluster` in its own process group (sentinel, pusher, monitor, worker all in it)."""
        log = self.root / f"{name}.log"
        self.logs.append(log)
        proc = self.popen(sys.executable, MANAGE, "qcluster", log=log)
        self.clusters.append(proc)
        return proc

    def job_state(self) -> tuple[str, int, int]:
        if self.pg_url:
            sql, key = "SELECT status, progress, attempts FROM jobs_job WHERE id = %s", self.job_id
        else:  # Django keeps UUIDs as 32 hexadecimal digits on SQLite
            sql, key = "SELECT status, progress, attempts FROM jobs_job WHERE id = ?", self.job_id.replace("-", "")
        (row,) = self.query(sql, (key,))
        return row

    def wait_for(self, what: str, predicate, clusters, *, interval: float = 0.1) -> tuple:
        deadline = time.monotonic() + DEADLINE
        state = None
        while time.monotonic() < deadline:
            state = self.job_state()
            if predicate(*state):
                return state
            for proc in clusters:
                assert proc.poll() is None, f"a cluster exited (code {proc.returncode}):\n{self.log_tail()}"
            failed = self.query("SELECT COUNT(*) FROM django_q_task WHERE NOT success")
            assert failed == [(0,)], f"the broker recorded a failed task:\n{self.log_tail()}"
            time.sleep(interval)
        pytest.fail(f"timed out waiting for {what}; last (status, progress, attempts) = {state}\n{self.log_tail()}")

    def kill_mid_run_and_finish(self, *, interval: float = 0.1) -> None:
        """Start a cluster, kill it while the job runs (stopped first, so that its state can be checked), start a
        second one and wait until the job has finished and its delivery is acknowledged."""
        first = self.start_cluster("cluster1")
        self.wait_for("the first worker to start the job",
                      lambda s, p, a: s == "running" and p > 0, [first], interval=interval)
        os.killpg(first.pid, signal.SIGSTOP)  # frozen mid-run: what it has done so far is what we read
        status, progress, attempts = self.job_state()
        kill_group(first)
        assert (status, attempts) == ("running", 1), "the job finished before the worker could be killed"
        assert progress < 100
        second = self.start_cluster("cluster2")
        self.wait_for("the job to finish", lambda s, p, a: s in {"succeeded", "failed", "cancelled"}, [second])
        deadline = time.monotonic() + DEADLINE  # the second cluster acknowledges the delivery
        while self.query("SELECT COUNT(*) FROM django_q_ormq") != [(0,)]:
            assert time.monotonic() < deadline, f"delivery never acknowledged\n{self.log_tail()}"
            time.sleep(0.1)

    def stop(self) -> None:
        for proc in self.clusters:
            kill_group(proc)
        self.drop()

    def log_tail(self) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in self.logs if log.exists())


def kill_group(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def test_job_killed_mid_run_is_delivered_again_and_succeeds_once(tmp_path):
    scenario = Scenario(tmp_path)
    try:
        scenario.manage("migrate", "--no-input", "-v", "0", timeout=300)
        scenario.job_id = scenario.shell(
            "from tremplin.web.jobs.services import job_enqueue; "
            f"print(job_enqueue(kind='demo.count', params={{'steps': {STEPS}, 'delay': {DELAY}}}).pk)")
        assert scenario.query("SELECT COUNT(*) FROM django_q_ormq") == [(1,)], "the job was not queued"
        scenario.kill_mid_run_and_finish()
        report = json.loads(scenario.shell(
            "import json; from django.db import connection; from tremplin.web.jobs.models import Job, JobOutput; "
            f"job = Job.objects.get(pk='{scenario.job_id}'); "
            "print(json.dumps({'status': job.status, 'attempts': job.attempts, 'progress': job.progress, "
            "'result': job.result, 'error': job.error, 'vendor': connection.vendor, "
            "'outputs': [o.payload for o in JobOutput.objects.filter(job=job)]}))"))
    finally:
        scenario.stop()

    assert report["vendor"] == scenario.vendor
    expected = {"total": STEPS * (STEPS + 1) // 2, "steps": STEPS}
    assert report["status"] == "succeeded", report["error"]
    assert report["attempts"] >= 2
    assert report["progress"] == 100
    assert report["result"] == expected
    assert report["outputs"] == [expected]


EVALUATION_SEED = """
from django.core.management import call_command
from tremplin.web.evaluations import demo
demo.DEMO_OPTIONS.update(persons=1500, territories=8, years=2)  # the demo, with a smaller care dataset
call_command("demo_setup", verbosity=0)
from tremplin.web.accounts.models import User
from tremplin.web.evaluations.models import Dataset
from tremplin.web.evaluations.services import run_launch
from tremplin.web.portfolio.models import EvaluationPlan
plan = EvaluationPlan.objects.filter(primary_outcome=demo.DEMO_OUTCOME).order_by("pk").first()
run = run_launch(plan=plan, dataset=Dataset.objects.get(), user=User.objects.get(email="evaluator@demo.tremplin.org"),
                 estimator="cs", period="month", seed=7)
print(run.job_id)
"""

EVALUATION_REPORT = """
import json
from tremplin.web.accounts.models import User
from tremplin.web.evaluations.models import Run
from tremplin.web.evaluations.services import run_launch
from tremplin.web.jobs.models import JobOutput
from django_q.models import Task
killed = Run.objects.get(job_id="{job_id}")
# The same evaluation run again, uninterrupted in this process: the reference result.
reference = run_launch(plan=killed.plan, dataset=killed.dataset, user=User.objects.get(email="evaluator@demo.tremplin.org"),
                       estimator="cs", period="month", seed=7, sync=True)
strip = lambda result: {{k: v for k, v in (result or {{}}).items() if k not in {{"timings", "duration"}}}}
print(json.dumps({{
    "runs_for_job": Run.objects.filter(job_id="{job_id}").count(),
    "runs_for_plan": Run.objects.filter(plan=killed.plan).count(),
    "status": killed.status, "job_status": killed.job.status, "attempts": killed.job.attempts,
    "error": killed.error, "outputs": JobOutput.objects.filter(job_id="{job_id}").count(),
    "output_run": JobOutput.objects.get(job_id="{job_id}").payload.get("run_id"),
    "deliveries_done": list(Task.objects.filter(name="evaluations.run:{job_id}").values_list("success", flat=True)),
    "same_result": strip(killed.result) == strip(reference.result), "reference_status": reference.status,
    "headline": killed.result["headline"], "run_id": killed.pk,
}}))
"""


def test_evaluation_killed_mid_run_completes_once_with_the_uninterrupted_result(tmp_path):
    """The worker dies in the middle of an evaluation (difference-in-differences on a care dataset): the run is
    retried by the next worker and completes exactly once — one run, one job output, one completion — with the
    very result an uninterrupted run gives."""
    scenario = Scenario(tmp_path)
    try:
        scenario.manage("migrate", "--no-input", "-v", "0", timeout=300)
        scenario.job_id = scenario.shell(EVALUATION_SEED)
        assert scenario.query("SELECT COUNT(*) FROM django_q_ormq") == [(1,)], "the evaluation was not queued"
        # An evaluation reports its first progress within a second; polled often to freeze it mid-run.
        scenario.kill_mid_run_and_finish(interval=0.02)
        killed_status = scenario.query("SELECT status FROM evaluations_run")
        report = json.loads(scenario.shell(EVALUATION_REPORT.format(job_id=scenario.job_id)))
    finally:
        scenario.stop()

    assert killed_status == [("succeeded",)]
    assert report["job_status"] == "succeeded" and report["status"] == "succeeded", report["error"]
    assert report["attempts"] >= 2
    assert report["runs_for_job"] == 1 and report["runs_for_plan"] == 2  # the killed run + the reference
    assert report["outputs"] == 1 and report["output_run"] == report["run_id"]
    assert report["deliveries_done"] == [True]  # the killed delivery never completed; the retry did, once
    assert report["reference_status"] == "succeeded"
    assert report["same_result"], "the retried evaluation's result differs from an uninterrupted run's"
    assert report["headline"]["att"] < 0  # the planted effect (a reduction) is found
