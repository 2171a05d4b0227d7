"""Following problems (notifications app): what followers are told when a problem's status changes, when it is
merged into another, when it enters a call."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tremplin.web.notifications import registry, services
from tremplin.web.notifications.registry import Event, Followable
from tremplin.web.problems.models import ProblemStatus

registry.register_followable(Followable(
    "problematique", "problems.problem", "problems.view_problem", gettext_lazy("Problématique"),
    lambda problem: reverse("problems:problem-detail", args=[problem.pk])))


def _status(code) -> str:
    return str(ProblemStatus(code).label) if code in ProblemStatus.values else ""


registry.register_event(Event("problems.status", lambda p: _(
    "« %(title)s » est passée au statut « %(status)s »") % {"title": p.get("title", ""),
                                                            "status": _status(p.get("status"))}))
registry.register_event(Event("problems.merged", lambda p: _(
    "« %(title)s » a été fusionnée dans « %(into)s »") % {"title": p.get("title", ""), "into": p.get("into", "")}))
registry.register_event(Event("problems.in_call", lambda p: _(
    "« %(title)s » entre dans l'appel « %(call)s »") % {"title": p.get("title", ""), "call": p.get("call", "")}))


def status_changed(*, problem, actor=None) -> None:
    services.followers_notify(target=problem, event="problems.status", actor=actor,
                              params={"title": problem.title, "status": problem.status})


def merged(*, source, target, actor=None) -> None:
    """Followers of the duplicate are told, then follow the problem it was merged into."""
    services.followers_notify(target=source, event="problems.merged", actor=actor,
                              params={"title": source.title, "into": target.title})
    services.follows_move(source=source, target=target)


def entered_call(*, problem, call, actor=None) -> None:
    services.followers_notify(target=problem, event="problems.in_call", actor=actor,
                              params={"title": problem.title, "call": call.title})
