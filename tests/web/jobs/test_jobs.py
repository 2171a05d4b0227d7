"""Background jobs: services (enqueue, run, cancel, idempotency) and pages (list, progress partial).

The worker itself is exercised for real in test_worker_kill.py; here `job_run` is called synchronously,
exactly as the worker calls it.
"""

from __future__ import annotations

import pytest
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_q.models import OrmQ

from tests.web.conftest import login_mfa_verified
from tests.web.factories import UserFactory
from tremplin.web.jobs import registry
from tremplin.web.jobs.models import Job, JobOutput, JobStatus
from tremplin.web.jobs.services import job_cancel, job_enqueue, job_run

pytestmark = pytest.mark.django_db


def _sum_to(n: int) -> int:
    return n * (n + 1) // 2


@pytest.fixture
def register_handler():
    """Register test-only handlers, removed afterwards."""
    added = []

    def register(kind, fn):
        registry.job_handler(kind)(fn)
        added.append(kind)
        return fn

    yield register
    for kind in added:
        registry.HANDLERS.pop(kind, None)


# --- services ---------------------------------------------------------------------------------------------

def test_enqueue_hands_the_job_to_the_broker_after_commit(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        job = job_enqueue(kind="demo.count", params={"steps": 3, "delay": 0}, label="Compter")
        assert OrmQ.objects.count() == 0, "queued before the transaction committed"
    assert len(callbacks) == 1
    assert job.status == JobStatus.QUEUED and job.attempts == 0
    (queued,) = OrmQ.objects.all()
    task = queued.task  # the signed package the worker will unpack
    assert task["func"] == "tremplin.web.jobs.services.job_run"
    assert task["args"] == () and task["kwargs"] == {"job_id": str(job.pk)}
    # What the worker does with it: call the function with those arguments.
    assert job_run(*task["args"], **task["kwargs"]) == JobStatus.SUCCEEDED
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.result == {"total": 6, "steps": 3}


@pytest.mark.django_db(transaction=True)
def test_enqueue_outside_a_transaction_queues_at_once():
    # Real commits (no test transaction): also checks the database flush after the test, which on
    # PostgreSQL must TRUNCATE the append-only audit log that job creation wrote to.
    from tremplin.web.core.models import AuditLog

    job = job_enqueue(kind="demo.count", params={"steps": 1, "delay": 0})
    assert OrmQ.objects.get().task["kwargs"] == {"job_id": str(job.pk)}
    assert AuditLog.objects.filter(model="jobs.job", object_pk=str(job.pk), action="create").exists()


def test_enqueue_refuses_an_unknown_kind():
    with pytest.raises(LookupError, match="demo.count"):
        job_enqueue(kind="no.such.kind")
    assert not Job.objects.exists()


def test_successful_job_records_result_progress_and_one_output():
    user = UserFactory()
    job = job_enqueue(kind="demo.count", params={"steps": 5, "delay": 0}, user=user, sync=True)
    assert job.status == JobStatus.SUCCEEDED
    assert job.result == {"total": _sum_to(5), "steps": 5}
    assert job.progress == 100 and job.message == "" and job.error == ""
    assert job.attempts == 1 and job.created_by == user
    assert job.started_at is not None and job.finished_at >= job.started_at
    assert [o.payload for o in JobOutput.objects.filter(job=job)] == [job.result]


def test_progress_is_recorded_while_running_and_capped_below_100(register_handler):
    seen = []

    def handler(params, progress):
        for fraction in (0.25, 0.5, 1.0, 1.7):
            progress(fraction, f"at {fraction}")
            seen.append(Job.objects.values_list("status", "progress", "message").get())
        return {"ok": True}

    register_handler("tests.progress", handler)
    job = job_enqueue(kind="tests.progress", sync=True)
    assert seen == [("running", 25, "at 0.25"), ("running", 50, "at 0.5"), ("running", 99, "at 1.0"),
                    ("running", 99, "at 1.7")]
    assert (job.status, job.progress) == (JobStatus.SUCCEEDED, 100)


def test_failing_handler_records_the_error_and_no_output():
    job = job_enqueue(kind="demo.fail", params={"message": "boom at row 12"}, sync=True)
    assert job.status == JobStatus.FAILED
    assert job.error.startswith("ValueError: boom at row 12")
    assert "Traceback" in job.error
    assert job.result is None and job.finished_at is not None
    assert job.progress == 50 and job.message == "halfway"  # as far as it got
    assert not JobOutput.objects.exists()


def test_unserialisable_result_fails_the_job_instead_of_leaving_it_running(register_handler):
    register_handler("tests.bad_result", lambda params, progress: {"when": object()})
    job = job_enqueue(kind="tests.bad_result", sync=True)
    assert job.status == JobStatus.FAILED
    assert "Could not save the result" in job.error
    assert not JobOutput.objects.exists()


def test_handler_missing_at_run_time_fails_the_job():
    job = Job.objects.create(kind="removed.kind")
    assert job_run(job_id=str(job.pk)) == JobStatus.FAILED
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "LookupError" in job.error


def test_cancel_before_start():
    job = Job.objects.create(kind="demo.count", params={"steps": 3, "delay": 0})
    job = job_cancel(job=job)
    assert job.status == JobStatus.CANCELLED and job.cancel_requested and job.finished_at is not None
    assert job_run(job_id=str(job.pk)) == JobStatus.CANCELLED
    job.refresh_from_db()
    assert job.attempts == 0 and job.result is None
    assert not JobOutput.objects.exists()


def test_cancel_while_running_stops_at_the_next_progress_report(register_handler):
    reached = []

    def handler(params, progress):
        progress(0.1, "started")
        # Meanwhile, the user presses "Annuler" (the job is running: it is only flagged).
        flagged = job_cancel(job=Job.objects.get())
        assert (flagged.status, flagged.cancel_requested) == (JobStatus.RUNNING, True)
        progress(0.2, "next step")  # raises JobCancelled
        reached.append("after cancel")
        return {"done": True}

    register_handler("tests.cancel_running", handler)
    job = job_enqueue(kind="tests.cancel_running", sync=True)
    assert reached == []
    assert job.status == JobStatus.CANCELLED and job.finished_at is not None
    assert job.result is None and not JobOutput.objects.exists()


def test_cancelling_a_finished_job_changes_nothing():
    job = job_enqueue(kind="demo.count", params={"steps": 2, "delay": 0}, sync=True)
    job = job_cancel(job=job)
    assert job.status == JobStatus.SUCCEEDED and not job.cancel_requested


@pytest.mark.parametrize("kind", ["demo.count", "demo.fail"])
def test_running_a_finished_job_again_does_nothing(kind):
    job = job_enqueue(kind=kind, params={"steps": 3, "delay": 0}, sync=True)
    before = Job.objects.values().get(pk=job.pk)
    assert job_run(job_id=str(job.pk)) == before["status"]
    assert Job.objects.values().get(pk=job.pk) == before
    assert JobOutput.objects.count() == (1 if kind == "demo.count" else 0)


def test_redelivered_job_runs_again_and_completes_once():
    # State left by a worker killed mid-run: running, first attempt, some progress.
    job = Job.objects.create(kind="demo.count", params={"steps": 4, "delay": 0}, status=JobStatus.RUNNING,
                             attempts=1, progress=40, message="2/4")
    assert job_run(job_id=str(job.pk)) == JobStatus.SUCCEEDED
    job.refresh_from_db()
    assert (job.status, job.attempts, job.progress) == (JobStatus.SUCCEEDED, 2, 100)
    assert job_run(job_id=str(job.pk)) == JobStatus.SUCCEEDED  # a third delivery: no-op
    assert [o.payload for o in JobOutput.objects.all()] == [{"total": _sum_to(4), "steps": 4}]


def test_a_superseded_attempt_does_not_record_its_result(register_handler):
    def handler(params, progress):
        # While this attempt runs, another delivery of the same job starts (a newer attempt).
        Job.objects.update(attempts=F("attempts") + 1)
        return {"stale": True}

    register_handler("tests.superseded", handler)
    job = Job.objects.create(kind="tests.superseded")
    assert job_run(job_id=str(job.pk)) == "superseded"
    job.refresh_from_db()
    assert (job.status, job.attempts, job.result) == (JobStatus.RUNNING, 2, None)
    assert not JobOutput.objects.exists()


def test_job_whose_worker_keeps_dying_is_given_up(settings):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "max_attempts": 3}
    job = Job.objects.create(kind="demo.count", status=JobStatus.RUNNING, attempts=3, progress=10)
    assert job_run(job_id=str(job.pk)) == JobStatus.FAILED
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.attempts == 3
    assert "Gave up after 3 attempts" in job.error
    assert not JobOutput.objects.exists()


def test_missing_job_is_ignored():
    assert job_run(job_id="00000000-0000-0000-0000-000000000000") == "missing"


# --- pages ------------------------------------------------------------------------------------------------

@pytest.fixture
def owner_client(client, make_user):
    user = make_user("network_member")
    client.force_login(user)
    client.user = user
    return client


def test_progress_page_without_js_has_a_refresh_link(owner_client):
    job = Job.objects.create(kind="demo.count", created_by=owner_client.user, status=JobStatus.RUNNING,
                             progress=42, message="21/50")
    url = reverse("jobs:job-detail", args=[job.pk])
    response = owner_client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" in html and "<h1>" in html
    assert 'value="42"' in html and "21/50" in html
    assert f'<noscript><p><a href="{url}">' in html
    assert f'hx-get="{url}"' in html and 'hx-trigger="every 1s"' in html


def test_progress_partial_for_htmx_polling(owner_client):
    job = Job.objects.create(kind="demo.count", created_by=owner_client.user, status=JobStatus.RUNNING,
                             progress=42)
    url = reverse("jobs:job-detail", args=[job.pk])
    response = owner_client.get(url, headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html and "<h1>" not in html
    assert html.lstrip().startswith("<div") and 'id="job-progress"' in html
    assert "HX-Request" in response["Vary"] and response["Cache-Control"] == "no-store"
    assert 'data-status="running"' in html and 'value="42"' in html
    assert f'hx-get="{url}"' in html and 'hx-swap="outerHTML"' in html
    # The owner may cancel a running job from the partial.
    assert reverse("jobs:job-cancel", args=[job.pk]) in html


def test_progress_partial_stops_polling_when_finished(owner_client):
    job = job_enqueue(kind="demo.count", params={"steps": 2, "delay": 0}, user=owner_client.user, sync=True)
    response = owner_client.get(reverse("jobs:job-detail", args=[job.pk]), headers={"HX-Request": "true"})
    html = response.content.decode()
    assert 'data-status="succeeded"' in html and 'value="100"' in html
    assert "hx-get" not in html and "hx-trigger" not in html and "<noscript>" not in html
    assert "&#x27;total&#x27;: 3" in html  # the result, escaped


def test_progress_partial_shows_the_error(owner_client):
    job = job_enqueue(kind="demo.fail", params={"message": "<b>bad</b> input"}, user=owner_client.user,
                      sync=True)
    html = owner_client.get(reverse("jobs:job-detail", args=[job.pk]),
                            headers={"HX-Request": "true"}).content.decode()
    assert 'data-status="failed"' in html
    assert "ValueError: &lt;b&gt;bad&lt;/b&gt; input" in html


def test_other_users_job_is_forbidden(owner_client):
    job = Job.objects.create(kind="demo.count", created_by=UserFactory())
    response = owner_client.get(reverse("jobs:job-detail", args=[job.pk]), headers={"HX-Request": "true"})
    assert response.status_code == 403


def test_cancel_view(owner_client):
    job = Job.objects.create(kind="demo.count", created_by=owner_client.user)
    response = owner_client.post(reverse("jobs:job-cancel", args=[job.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("jobs:job-detail", args=[job.pk])
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED


def test_demo_view_queues_a_job(client, admin_user, django_capture_on_commit_callbacks):
    login_mfa_verified(client, admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("jobs:job-demo"))
    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("jobs:job-detail", args=[job.pk])
    assert (job.kind, job.status, job.created_by) == ("demo.count", JobStatus.QUEUED, admin_user)
    assert OrmQ.objects.get().task["kwargs"] == {"job_id": str(job.pk)}


def test_list_shows_only_own_jobs(owner_client):
    mine = Job.objects.create(kind="demo.count", label="mine", created_by=owner_client.user)
    Job.objects.create(kind="demo.count", label="someone else's", created_by=UserFactory())
    response = owner_client.get(reverse("jobs:job-list"))
    assert [job.pk for job in response.context["page"]] == [mine.pk]


def _list_queries(client) -> int:
    url = reverse("jobs:job-list")
    client.get(url)  # warm the session (MFA check, etc.)
    from django.db import connection

    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_job_list_has_no_n_plus_one(client, admin_user, django_assert_max_num_queries):
    login_mfa_verified(client, admin_user)
    Job.objects.create(kind="demo.count", created_by=UserFactory())
    baseline = _list_queries(client)
    for i in range(30):
        Job.objects.create(kind="demo.count", label=f"job {i}", created_by=UserFactory())
    with django_assert_max_num_queries(baseline):
        response = client.get(reverse("jobs:job-list"))
    assert len(response.context["page"]) == 31
    assert response.content.decode().count('href="/taches/') >= 31
    assert baseline <= 15


def test_failed_job_shows_the_error_line_and_keeps_the_traceback_for_admins(client, make_user):
    from tremplin.web.jobs.services import job_enqueue

    owner = make_user("evaluator")
    job = job_enqueue(kind="demo.fail", params={"message": "<b>boom</b> at row 12"}, user=owner, sync=True)
    login_mfa_verified(client, owner)
    html = client.get(f"/taches/{job.pk}/").content.decode()
    assert "ValueError: &lt;b&gt;boom&lt;/b&gt; at row 12" in html
    assert "Traceback" not in html
    login_mfa_verified(client, make_user("admin"))
    assert "Traceback" in client.get(f"/taches/{job.pk}/").content.decode()


def test_jobs_api_gives_the_owner_the_error_line_and_admins_the_traceback(client, make_user):
    """The API follows the page: a job's owner never reads the traceback (server code paths)."""
    from tremplin.web.jobs.services import job_enqueue

    owner = make_user("evaluator")
    job = job_enqueue(kind="demo.fail", params={"message": "boom at row 12"}, user=owner, sync=True)
    login_mfa_verified(client, owner)
    for url in (f"/api/v1/jobs/{job.pk}/", "/api/v1/jobs/"):
        body = client.get(url, HTTP_ACCEPT="application/json").json()
        record = body if "error" in body else body["results"][0]
        assert record["error"] == "ValueError: boom at row 12"
    login_mfa_verified(client, make_user("admin"))
    assert "Traceback" in client.get(f"/api/v1/jobs/{job.pk}/", HTTP_ACCEPT="application/json").json()["error"]
