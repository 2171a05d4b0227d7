"""Comments on problems moderated by managers, and following a problem (issue 18, item 10): personas (reporter,
member of another organisation, outsider without organisation, manager), notifications on status change, merge
and entering a call, audit, query counts."""

from __future__ import annotations

import html

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from tests.web.factories import ProblemFactory, make_call
from tremplin.web.core.models import AuditLog
from tremplin.web.notifications import services as notifications
from tremplin.web.notifications.models import Follow, Notification
from tremplin.web.problems import services
from tremplin.web.problems.models import CommentFlag, ProblemComment

pytestmark = pytest.mark.django_db


def _page(client, problem) -> str:
    response = client.get(reverse("problems:problem-detail", args=[problem.pk]))
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def test_members_comment_outsiders_cannot(client, personas):
    url = reverse("problems:comment-add", args=[personas.problem.pk])
    client.force_login(personas.other_member)
    response = client.post(url, {"text": "Même constat dans notre service."}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "Même constat dans notre service." in html.unescape(response.content.decode())
    assert ProblemComment.objects.get().author == personas.other_member
    # Authors are shown by their display name, never by their e-mail address.
    personas.other_member.display_name = ""
    personas.other_member.save()
    client.force_login(personas.colleague)
    page = _page(client, personas.problem)
    assert "other@example.org" not in page and "membre du réseau" in page
    client.force_login(personas.outsider)  # signed in, no organisation of the network
    assert client.post(url, {"text": "Spam"}).status_code == 403
    assert "Publier le commentaire" not in _page(client, personas.problem)
    client.logout()
    assert client.post(url, {"text": "Spam"}).status_code == 302
    assert ProblemComment.objects.count() == 1
    assert AuditLog.objects.filter(model="problems.problemcomment", action="create").count() == 1


def test_comment_validation(personas):
    with pytest.raises(ValidationError, match="vide"):
        services.comment_add(problem=personas.problem, user=personas.reporter, text="   ")
    with pytest.raises(ValidationError, match="3000"):
        services.comment_add(problem=personas.problem, user=personas.reporter, text="x" * 3001)
    with pytest.raises(ValidationError):
        services.comment_add(problem=personas.problem, user=personas.reporter, text="a\x00b")
    with pytest.raises(PermissionDenied):
        services.comment_add(problem=personas.problem, user=personas.outsider, text="x")
    target = ProblemFactory()
    services.problem_merge(source=personas.problem, target=target, user=personas.manager)
    with pytest.raises(ValidationError, match="fusionnée"):
        services.comment_add(problem=personas.problem, user=personas.reporter, text="x")
    assert ProblemComment.objects.count() == 0


def test_flag_then_moderate_hide_and_restore(client, personas):
    comment = services.comment_add(problem=personas.problem, user=personas.other_member, text="Propos déplacés")
    with pytest.raises(ValidationError, match="propre"):
        services.comment_flag(comment=comment, user=personas.other_member)
    client.force_login(personas.reporter)
    client.post(reverse("problems:comment-flag", args=[comment.pk]), {"reason": "insultant"})
    client.post(reverse("problems:comment-flag", args=[comment.pk]), {"reason": "encore"})  # once per user
    assert list(CommentFlag.objects.values_list("reason", flat=True)) == ["insultant"]
    # Managers see flagged comments first.
    services.comment_add(problem=personas.problem, user=personas.reporter, text="Un autre avis, plus récent")
    client.force_login(personas.manager)
    queue = client.get(reverse("problems:comment-moderation"))
    assert [c.pk for c in queue.context["page"]][0] == comment.pk and queue.context["page"][0].open_flags == 1
    # Hiding needs a reason; the reason replaces the text for everyone but managers.
    url = reverse("problems:comment-moderate", args=[comment.pk])
    client.post(url, {"action": "hide", "reason": ""})
    comment.refresh_from_db()
    assert comment.status == "published"
    client.post(url, {"action": "hide", "reason": "Hors charte"})
    comment.refresh_from_db()
    assert (comment.status, comment.moderation_reason, comment.moderated_by) == ("hidden", "Hors charte",
                                                                                personas.manager)
    assert CommentFlag.objects.get().resolved_at is not None
    assert "Propos déplacés" in _page(client, personas.problem)  # the manager still reads it
    client.force_login(personas.colleague)
    page = _page(client, personas.problem)
    assert "Propos déplacés" not in page and "Commentaire masqué par la modération : Hors charte" in page
    # Only managers moderate.
    assert client.post(url, {"action": "restore"}).status_code == 403
    assert client.get(reverse("problems:comment-moderation")).status_code == 403
    client.force_login(personas.manager)
    client.post(url, {"action": "restore"})
    comment.refresh_from_db()
    assert comment.status == "published" and comment.moderation_reason == ""
    changes = [e.changes for e in AuditLog.objects.filter(model="problems.problemcomment", action="update")
               .order_by("at", "pk")]
    assert [c["status"] for c in changes if "status" in c] == [["published", "hidden"], ["hidden", "published"]]


def test_problem_page_query_count_does_not_grow_with_comments(client, personas, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    services.comment_add(problem=personas.problem, user=personas.reporter, text="Premier")
    client.force_login(personas.manager)
    _page(client, personas.problem)
    with CaptureQueriesContext(connection) as ctx:
        _page(client, personas.problem)
    for i in range(30):
        services.comment_add(problem=personas.problem, user=[personas.reporter, personas.other_member][i % 2],
                             text=f"Avis {i}")
    with django_assert_max_num_queries(len(ctx.captured_queries)):
        assert "Avis 29" in _page(client, personas.problem)


def test_moderation_queue_query_count_does_not_grow(client, personas, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(personas.manager)
    url = reverse("problems:comment-moderation")
    services.comment_add(problem=personas.problem, user=personas.reporter, text="Premier")
    client.get(url)
    with CaptureQueriesContext(connection) as ctx:
        client.get(url)
    for i in range(30):
        comment = services.comment_add(problem=ProblemFactory(), user=personas.other_member, text=f"Avis {i}")
        services.comment_flag(comment=comment, user=personas.reporter)
    with django_assert_max_num_queries(len(ctx.captured_queries)):
        assert len(client.get(url).context["page"]) == 31


# --- following -------------------------------------------------------------------------------------------------


def test_follow_button_and_notifications_on_status_change(client, personas):
    client.force_login(personas.other_member)
    url = reverse("notifications:follow", args=["problematique", personas.problem.pk])
    response = client.post(url, {"action": "follow"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "ne plus suivre" in response.content.decode()
    assert "ne plus suivre" in _page(client, personas.problem)
    services.problem_change_status(problem=personas.problem, status="qualified", user=personas.manager)
    (notification,) = Notification.objects.filter(user=personas.other_member)
    assert notification.message == f"« {personas.problem.title} » est passée au statut « Qualifiée »"
    assert notification.url == reverse("problems:problem-detail", args=[personas.problem.pk])
    # The dashboard shows it until it is read.
    dashboard = html.unescape(client.get(reverse("core:dashboard")).content.decode())
    assert notification.message in dashboard
    client.post(reverse("notifications:notifications-read"))
    assert notification.message not in html.unescape(client.get(reverse("core:dashboard")).content.decode())
    # The manager who made the change is not told about it, even when following.
    notifications.follow_add(user=personas.manager, target=personas.problem)
    services.problem_change_status(problem=personas.problem, status="new", user=personas.manager)
    assert not Notification.objects.filter(user=personas.manager).exists()
    # Unfollow: no more notifications.
    client.post(url, {"action": "unfollow"})
    services.problem_change_status(problem=personas.problem, status="qualified", user=personas.manager)
    assert Notification.objects.filter(user=personas.other_member).count() == 2
    assert AuditLog.objects.filter(model="notifications.follow", action="delete").count() == 1


def test_followers_hear_of_a_merge_and_then_follow_the_target(personas):
    target = ProblemFactory(title="Le même problème, mieux décrit")
    notifications.follow_add(user=personas.colleague, target=personas.problem)
    notifications.follow_add(user=personas.other_member, target=personas.problem)
    notifications.follow_add(user=personas.other_member, target=target)
    services.problem_merge(source=personas.problem, target=target, user=personas.manager)
    messages = set(Notification.objects.values_list("user_id", "event"))
    assert messages == {(personas.colleague.pk, "problems.merged"), (personas.other_member.pk, "problems.merged")}
    assert Notification.objects.filter(event="problems.merged").first().message == (
        f"« {personas.problem.title} » a été fusionnée dans « {target.title} »")
    followers = set(Follow.objects.filter(target_id=target.pk, target_type__model="problem")
                    .values_list("user_id", flat=True))
    assert followers == {personas.colleague.pk, personas.other_member.pk}


def test_followers_hear_when_the_problem_enters_a_call(personas):
    notifications.follow_add(user=personas.reporter, target=personas.problem)
    call = make_call("open", title="Appel : suivi après la sortie", problems=[personas.problem])
    (notification,) = Notification.objects.filter(user=personas.reporter)
    assert notification.event == "problems.in_call"
    assert notification.message == f"« {personas.problem.title} » entre dans l'appel « {call.title} »"


def test_only_who_sees_an_object_follows_it(client, personas):
    draft = make_call("draft")
    client.force_login(personas.reporter)
    assert client.post(reverse("notifications:follow", args=["appel", draft.pk])).status_code == 403
    assert client.post(reverse("notifications:follow", args=["inconnu", 1])).status_code == 404
    assert not Follow.objects.exists()
