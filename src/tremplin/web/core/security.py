"""Security helpers referenced from settings."""

from __future__ import annotations


def axes_username(request, credentials: dict | None) -> str:
    """The identifier django-axes throttles on: allauth logs in by e-mail (`login` field)."""
    credentials = credentials or {}
    value = credentials.get("email") or credentials.get("username") or credentials.get("login")
    if not value and request is not None:
        value = request.POST.get("login", "")
    return str(value or "").strip().lower()
