"""Personas: the evaluator who launched the run, another evaluator, another user, an admin, anonymous."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.urls import reverse

from tests.web.conftest import login_mfa_verified
from tremplin.web.evaluations import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def personas(make_user):
    return {"other_evaluator": make_user("evaluator"), "member": make_user("network_member"),
            "admin": make_user("admin"), "anonymous": AnonymousUser()}


def test_run_permissions(run, evaluator, personas):
    assert evaluator.has_perm("evaluations.view_run", run)
    assert evaluator.has_perm("evaluations.publish_run", run)
    assert evaluator.has_perm("evaluations.cancel_run", run)
    other = personas["other_evaluator"]
    assert other.has_perm("evaluations.view_run", run) and not other.has_perm("evaluations.publish_run", run)
    member = personas["member"]
    assert not member.has_perm("evaluations.view_run", run) and not member.has_perm("evaluations.add_dataset")
    assert personas["admin"].has_perm("evaluations.publish_run", run)
    assert not personas["anonymous"].has_perm("evaluations.view_run", run)


def test_published_page_is_public_only_once_published(run, evaluator, personas):
    for user in (personas["anonymous"], personas["member"]):
        assert not user.has_perm("evaluations.view_published_run", run)
    services.run_publish(run=run, user=evaluator)
    for user in (personas["anonymous"], personas["member"], evaluator):
        assert user.has_perm("evaluations.view_published_run", run)
    services.run_unpublish(run=run)
    assert not personas["anonymous"].has_perm("evaluations.view_published_run", run)


def test_other_users_get_403_and_anonymous_goes_to_login(client, run, personas):
    url = reverse("evaluations:run-detail", args=[run.pk])
    assert client.get(url).status_code == 302
    client.force_login(personas["member"])
    assert client.get(url).status_code == 403
    assert client.get(reverse("evaluations:run-report-pdf", args=[run.pk])).status_code == 403
    assert client.post(reverse("evaluations:run-publish", args=[run.pk])).status_code == 403
    login_mfa_verified(client, personas["other_evaluator"])
    assert client.get(url).status_code == 200
    assert client.post(reverse("evaluations:run-publish", args=[run.pk])).status_code == 403
    run.refresh_from_db()
    assert not run.is_published
