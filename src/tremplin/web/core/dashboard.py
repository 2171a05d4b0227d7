"""Dashboard widgets contributed by capability apps (registered from their AppConfig.ready())."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class DashboardWidget:
    """`context(request)` returns the template context, or None to hide the widget for this user."""

    template: str
    context: Callable[[object], dict | None]
    roles: frozenset[str] | None = None  # None: every signed-in user
    order: int = 100


WIDGETS: list[DashboardWidget] = []


def register(widget: DashboardWidget) -> None:
    WIDGETS.append(widget)


def widgets_for(request) -> list[str]:
    """The HTML of every widget this user should see, in order."""
    from django.template.loader import render_to_string

    user = request.user
    rendered = []
    for widget in sorted(WIDGETS, key=lambda w: w.order):
        if widget.roles is not None and not user.has_role(*widget.roles):
            continue
        context = widget.context(request)
        if context is not None:
            rendered.append(render_to_string(widget.template, context, request=request))
    return rendered
