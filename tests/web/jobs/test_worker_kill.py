"""At-least-once delivery with a real django-q2 cluster: a worker killed (SIGKILL) in the middle of a job
is replaced by another cluster, which runs the job again; the job ends succeeded exactly once.

The scenario runs in subprocesses (`manage.py migrate`, `manage.py shell -c`, `manage.py qcluster`) on
a database of its own: a SQLite file in a temporary data directory, or, when the suite runs on
PostgreSQL (DATABASE_URL set), a fresh database on the same server, dropped afterwards.
The job's state is polled read-only with a plain DB-API connection.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

REPO_DIR = Path(__file__).resolve().parents[3]
MANAGE = str(REPO_DIR / "manage.py")

STEPS, DELAY = 16, 0.25  # the job runs ~4 s
Q_TIMEOUT, Q_RETRY = 12, 13  # a delivery not acknowledged within Q_RETRY seconds is delivered again
DEADLINE = 90  # seconds, for each wait


class Scenario:
    """A throw-away Tremplin installation: data dir, database, environment for subprocesses."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.env = {k: v for k, v in os.environ.items()
                    if k not in {"DJANGO_SETTINGS_MODULE", "TREMPLIN_TESTING", "DATABASE_URL"}}
        self.env.update({
            "TREMPLIN_DATA_DIR": str(tmp_path / "data"), "DEBUG": "1", "PYTHONUNBUFFERED": "1",
            "Q_TIMEOUT": str(Q_TIMEOUT), "Q_RETRY": str(Q_RETRY), "Q_POLL": "0.2", "Q_WORKERS": "1",
            "Q_LOG_LEVEL": "INFO",
        })
        self.pg_url = None
        self.pg_admin_url = os.environ.get("DATABASE_URL", "")
        if self.pg_admin_url.startswith(("postgres://", "postgresql://")):
            self._create_pg_database()
        self.sqlite_path = tmp_path / "data" / "tremplin.sqlite3"
        self.logs: list[Path] = []

    def _create_pg_database(self) -> None:
        import psycopg

        name = f"tremplin_worker_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.pg_admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        parts = urlsplit(self.pg_admin_url)
        self.pg_url = urlunsplit(parts._replace(path=f"/{name}"))
        self.pg_name = name
        self.env["DATABASE_URL"] = self.pg_url

    def drop(self) -> None:
        if self.pg_url is None:
            return
        import psycopg

        with psycopg.connect(self.pg_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)')

    def manage(self, *args: str, timeout: float = 120) -> str:
        done = subprocess.run([sys.executable, MANAGE, *args], env=self.env, cwd=REPO_DIR, capture_output=True,
                              text=True, timeout=timeout)
        assert done.returncode == 0, f"manage.py {args[0]} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def start_cluster(self, name: str) -> subprocess.Popen:
        """`manage.py qcluster` in its own process group (sentinel, pusher, monitor, worker all in it)."""
        log = self.tmp_path / f"{name}.log"
        self.logs.append(log)
        with log.open("w") as out:
            return subprocess.Popen([sys.executable, MANAGE, "qcluster"], env=self.env, cwd=REPO_DIR,
                                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def query(self, sql: str) -> list[tuple]:
        if self.pg_url is not None:
            import psycopg

            with psycopg.connect(self.pg_url) as conn:
                return conn.execute(sql).fetchall()
        conn = sqlite3.connect(f"file:{self.sqlite_path}?mode=ro", uri=True, timeout=10)
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()

    def job_state(self) -> tuple[str, int, int]:
        (row,) = self.query("SELECT status, progress, attempts FROM jobs_job")
        return row

    def wait_for(self, what: str, predicate, clusters) -> tuple:
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
            time.sleep(0.1)
        pytest.fail(f"timed out waiting for {what}; last (status, progress, attempts) = {state}\n{self.log_tail()}")

    def log_tail(self) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in self.logs if log.exists())


def kill_group(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def test_job_killed_mid_run_is_delivered_again_and_succeeds_once(tmp_path):
    scenario = Scenario(tmp_path)
    clusters: list[subprocess.Popen] = []
    try:
        scenario.manage("migrate", "--no-input", "-v", "0", timeout=300)
        job_id = scenario.manage("shell", "-c", (
            "from tremplin.web.jobs.services import job_enqueue; "
            f"print(job_enqueue(kind='demo.count', params={{'steps': {STEPS}, 'delay': {DELAY}}}).pk)"
        )).strip().splitlines()[-1]
        assert scenario.query("SELECT COUNT(*) FROM django_q_ormq") == [(1,)], "the job was not queued"

        first = scenario.start_cluster("cluster1")
        clusters.append(first)
        status, progress, attempts = scenario.wait_for(
            "the first worker to make progress", lambda s, p, a: s == "running" and p > 0, [first])
        kill_group(first)
        status, progress, attempts = scenario.job_state()
        assert (status, attempts) == ("running", 1), "the job finished before the worker could be killed"
        assert 0 < progress < 100

        second = scenario.start_cluster("cluster2")
        clusters.append(second)
        scenario.wait_for("the job to finish", lambda s, p, a: s in {"succeeded", "failed", "cancelled"},
                          [second])
        # The second cluster acknowledges the delivery: nothing left to run again.
        deadline = time.monotonic() + DEADLINE
        while scenario.query("SELECT COUNT(*) FROM django_q_ormq") != [(0,)]:
            assert time.monotonic() < deadline, f"delivery never acknowledged\n{scenario.log_tail()}"
            time.sleep(0.1)

        report = json.loads(scenario.manage("shell", "-c", (
            "import json; from django.db import connection; from tremplin.web.jobs.models import Job, JobOutput; "
            f"job = Job.objects.get(pk='{job_id}'); "
            "print(json.dumps({'status': job.status, 'attempts': job.attempts, 'progress': job.progress, "
            "'result': job.result, 'error': job.error, 'vendor': connection.vendor, "
            "'outputs': [o.payload for o in JobOutput.objects.filter(job=job)]}))"
        )).strip().splitlines()[-1])
    finally:
        for proc in clusters:
            kill_group(proc)
        scenario.drop()

    assert report["vendor"] == ("postgresql" if scenario.pg_url else "sqlite")
    expected = {"total": STEPS * (STEPS + 1) // 2, "steps": STEPS}
    assert report["status"] == "succeeded", report["error"]
    assert report["attempts"] >= 2
    assert report["progress"] == 100
    assert report["result"] == expected
    assert report["outputs"] == [expected]
