"""The load test's pieces that can be checked quickly: `manage.py seed_load` (the data set and the signed-in
sessions it writes) and benchmarks/bench_load.py's handling of a missing component (skip locally, fail in CI).
The load test itself runs in `make bench` (benchmarks/bench_load.py)."""

from __future__ import annotations

import importlib.util
import io
import json
from collections import Counter

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count

from tests.web.installation import REPO_DIR

COUNTS = {"problems": 30, "proposals": 12, "experiments": 6, "reviewers": 20}


@pytest.fixture
def seeded(db, tmp_path):
    path = tmp_path / "fixture.json"
    args = [f"--{k}={v}" for k, v in COUNTS.items()]
    call_command("seed_load", *args, "--sessions", str(path), stdout=io.StringIO())
    return json.loads(path.read_text())


def test_seed_load_writes_the_requested_data_set(seeded):
    from tremplin.web.calls.models import Assignment, Proposal, Review
    from tremplin.web.portfolio.models import Experiment
    from tremplin.web.problems.models import Problem

    assert Problem.objects.count() == 30 and Experiment.objects.count() == 6
    assert not Proposal.objects.exclude(call_id=seeded["review_call"]).exists()
    assert Proposal.objects.filter(call_id=seeded["review_call"], status="submitted").count() == 12
    assert Review.objects.count() == Assignment.objects.count() == 12 * 5
    # Five different reviewers per proposal, each with an assignment for the review.
    per_proposal = Counter(Review.objects.values_list("proposal_id", flat=True))
    assert set(per_proposal.values()) == {5}
    assert not Review.objects.values("proposal", "reviewer").annotate(n=Count("pk")).filter(n__gt=1).exists()
    assert set(Review.objects.values_list("proposal_id", "reviewer_id")) \
        == set(Assignment.objects.values_list("proposal_id", "reviewer_id"))
    assert set(seeded["sessions"]) == {"innovator", "network_member", "programme_manager", "reviewer"}


def test_seed_load_sessions_sign_each_role_in(seeded, client):
    """The sessions are what a login leaves: the pages the load test visits answer 200 for their user."""
    from tremplin.web.accounts.models import Membership

    pages = {"innovator": f"/appels/{seeded['open_call']}/proposer/", "network_member": "/problematiques/signaler/",
             "programme_manager": f"/appels/{seeded['review_call']}/classement/", "reviewer": "/appels/a-evaluer/"}
    for role, url in pages.items():
        me = seeded["sessions"][role][0]
        assert Membership.objects.filter(user_id=me["user"], role=role).exists()
        client.cookies["sessionid"] = me["session"]
        response = client.get(url)
        assert response.status_code == 200, (role, url, response.status_code)
        assert response.wsgi_request.user.pk == me["user"]
    reviewer = seeded["sessions"]["reviewer"][0]
    client.cookies["sessionid"] = reviewer["session"]
    proposal = seeded["assigned"][str(reviewer["user"])][0]
    assert client.get(f"/appels/propositions/{proposal}/").status_code == 200


def test_seed_load_refuses_a_database_that_holds_data(seeded, tmp_path):
    from tremplin.web.problems.models import Problem

    with pytest.raises(CommandError, match="empty database only"):
        call_command("seed_load", "--problems=5", "--sessions", str(tmp_path / "again.json"))
    assert Problem.objects.count() == 30 and not (tmp_path / "again.json").exists()


@pytest.fixture
def bench_load():
    spec = importlib.util.spec_from_file_location("bench_load", REPO_DIR / "benchmarks" / "bench_load.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_load_test_without_postgresql_skips_locally_with_the_reason(bench_load, monkeypatch, capsys):
    monkeypatch.delenv("CI", raising=False)
    missing = bench_load.missing_components(None)
    assert "PostgreSQL" in missing and "apt-get install postgresql" in missing
    assert bench_load.unavailable(missing) == 0
    out = capsys.readouterr().out
    assert out.startswith("SKIPPED: the load test was not run") and "PostgreSQL" in out


def test_load_test_without_postgresql_fails_under_ci(bench_load, monkeypatch, capsys):
    monkeypatch.setenv("CI", "true")
    assert bench_load.unavailable(bench_load.missing_components(None)) == 1
    assert capsys.readouterr().out.startswith("FAILED: CI=true but the load test needs PostgreSQL")
