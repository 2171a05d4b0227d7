"""API plumbing: a DRF permission class backed by `rules`, with explicit per-action permissions."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission

from tremplin.web.core.audit import audit_access_denied
from tremplin.web.core.security import mfa_missing


class RulesPermission(BasePermission):
    """Check `view.permission_map[action]` (a `rules` permission) for the list and for each object.

    A viewset without an entry for an action is refused: permissions are explicit.
    """

    def _perm(self, view) -> str | None:
        action = getattr(view, "action", None) or view.request.method.lower()
        return view.permission_map.get(action, "__undeclared__")

    def has_permission(self, request, view) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        # Token-authenticated requests bypass MfaRequiredMiddleware (DRF authenticates in the view).
        if mfa_missing(request.user):
            self.message = _("Double authentification requise.")
            return False
        perm = self._perm(view)
        if perm is None:
            return True
        if perm == "__undeclared__":
            return False
        # Object-level checks happen in has_object_permission; list/create use the global rule.
        if getattr(view, "action", None) in {"retrieve", "update", "partial_update", "destroy"}:
            return True
        allowed = request.user.has_perm(perm, getattr(view, "permission_object", lambda: None)())
        if not allowed:
            audit_access_denied(request=request, permission=perm)
        return allowed

    def has_object_permission(self, request, view, obj) -> bool:
        perm = self._perm(view)
        if perm is None:
            return True
        allowed = perm != "__undeclared__" and request.user.has_perm(perm, obj)
        if not allowed:
            audit_access_denied(request=request, permission=perm, obj=obj)
        return allowed


class PageContextMixin:
    """Give the serializer the page being serialised (`context["_page"]`), so that a field can compute its values
    for the whole page in one query instead of one per object."""

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        self._page = page
        return page

    def get_serializer_context(self):
        context = super().get_serializer_context()
        page = getattr(self, "_page", None)
        if page is not None:
            context["_page"] = page
        return context
