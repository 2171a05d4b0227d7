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
        # Care data (viewsets with `care_data = True`) is never reached with a token created without a second
        # factor, whoever holds it (tokens of users whose role requires one are refused at authentication).
        if getattr(view, "care_data", False) and request.auth is not None and not getattr(
                request.auth, "mfa_verified", False):
            self.message = _("Les données de santé exigent un jeton créé après double authentification.")
            audit_access_denied(request=request, permission="care_data_token")
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
