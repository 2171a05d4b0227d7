"""Reads for e-mail and notifications: the mail log and outbox with their filters, a user's notifications and
follows. Every list is one page of rows plus a constant number of queries."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.contenttypes.models import ContentType
from django.db.models import Q, QuerySet

from tremplin.web.core.querystring import query_choice, query_id, query_text
from tremplin.web.notifications import registry
from tremplin.web.notifications.models import Follow, MailStatus, Notification, OutgoingMail


@dataclass(frozen=True)
class MailFilters:
    status: str = ""
    kind: str = ""
    q: str = ""
    scope: str = ""  # a registered scope's slug
    scope_id: int | None = None

    @classmethod
    def from_query(cls, params, *, status: str = "") -> MailFilters:
        scope = query_choice(params, "scope", registry.SCOPES)
        return cls(status=query_choice(params, "status", MailStatus.values) or status,
                   kind=query_choice(params, "kind", registry.KINDS), q=query_text(params, "q"),
                   scope=scope, scope_id=query_id(params, "scope_id") if scope else None)

    def apply(self, qs: QuerySet[OutgoingMail]) -> QuerySet[OutgoingMail]:
        if self.status:
            qs = qs.filter(status=self.status)
        if self.kind:
            qs = qs.filter(kind=self.kind)
        if self.q:
            qs = qs.filter(Q(to_email__icontains=self.q) | Q(subject__icontains=self.q))
        if self.scope:
            app_label, model = registry.SCOPES[self.scope].model.split(".")
            qs = qs.filter(scope_type__app_label=app_label, scope_type__model=model)
            if self.scope_id:
                qs = qs.filter(scope_id=self.scope_id)
        return qs


def mail_list(*, filters: MailFilters) -> QuerySet[OutgoingMail]:
    """The mail log (every mail the platform queued), newest first, without the bodies."""
    return filters.apply(OutgoingMail.objects.select_related("recipient", "sent_by").defer("body", "context"))


def notifications_for(*, user) -> QuerySet[Notification]:
    return Notification.objects.filter(user=user).order_by("-created_at", "-pk")


def unread_count(*, user) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


@dataclass(frozen=True)
class FollowRow:
    follow: Follow
    target: object | None
    label: str
    url: str


def follows_for(*, user) -> list[FollowRow]:
    """What the user follows, with the objects (one query per kind of object)."""
    follows = list(Follow.objects.filter(user=user).select_related("target_type"))
    by_type: dict[int, list[int]] = {}
    for f in follows:
        by_type.setdefault(f.target_type_id, []).append(f.target_id)
    objects: dict[tuple[int, int], object] = {}
    for type_id, ids in by_type.items():
        model = ContentType.objects.get_for_id(type_id).model_class()
        if model is None:
            continue
        for obj in model._default_manager.filter(pk__in=ids):
            objects[(type_id, obj.pk)] = obj
    rows = []
    for f in follows:
        target = objects.get((f.target_type_id, f.target_id))
        followable = registry.followable_for_model(f.target_type.app_label + "." + f.target_type.model)
        rows.append(FollowRow(f, target, str(followable.label) if followable else "",
                              followable.url(target) if followable and target is not None else ""))
    return rows


def is_following(*, user, target) -> bool:
    if not user.is_authenticated:
        return False
    return Follow.objects.filter(user=user, target_type=ContentType.objects.get_for_model(target),
                                 target_id=target.pk).exists()
