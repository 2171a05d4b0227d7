"""Who reads and edits e-mail, follows and notifications (rules predicates)."""

from __future__ import annotations

import rules

from tremplin.web.accounts.rules import has_role, is_platform_admin
from tremplin.web.notifications import registry

is_manager = is_platform_admin | has_role("programme_manager")


@rules.predicate
def can_manage_scope(user, obj) -> bool:
    """The object's own permission (e.g. `calls.manage_call` for a call) decides who edits its e-mails."""
    scope = registry.scope_for_model(obj._meta.label_lower) if obj is not None else None
    return scope is not None and user.has_perm(scope.permission, obj)


@rules.predicate
def can_see_target(user, obj) -> bool:
    followable = registry.followable_for_model(obj._meta.label_lower) if obj is not None else None
    return followable is not None and user.has_perm(followable.permission, obj)


rules.add_perm("notifications.view_notifications", rules.is_authenticated)
rules.add_perm("notifications.follow", rules.is_authenticated & can_see_target)
rules.add_perm("notifications.manage_mail", is_manager)  # platform templates, the outbox, the mail log
rules.add_perm("notifications.manage_scope_mail", rules.is_authenticated & can_manage_scope)
