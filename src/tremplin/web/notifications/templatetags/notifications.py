"""`{% follow_button obj %}`: the follow / unfollow button of a followable object (one query)."""

from __future__ import annotations

from django import template

from tremplin.web.notifications import registry, selectors

register = template.Library()


@register.inclusion_tag("notifications/_follow.html", takes_context=True)
def follow_button(context, target):
    request = context.get("request")
    user = getattr(request, "user", None)
    followable = registry.followable_for_model(target._meta.label_lower)
    if user is None or not user.is_authenticated or followable is None:
        return {"target": None}
    return {"target": target, "slug": followable.slug, "csrf_token": context.get("csrf_token"),
            "following": selectors.is_following(user=user, target=target), "request": request}
