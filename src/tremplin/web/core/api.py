"""API plumbing: a DRF permission class backed by `rules`, with explicit per-action permissions."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import BasePermission
from rest_framework.renderers import BrowsableAPIRenderer

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


class FormlessBrowsableAPIRenderer(BrowsableAPIRenderer):
    """The browsable API as a read-only viewer: no HTML, raw-data or filter forms, which would list the
    choices of related fields (users' e-mails, organisations) to anyone signed in."""

    def get_rendered_html_form(self, data, view, method, request):
        return None

    def get_raw_data_form(self, data, view, method, request):
        return None

    def get_filter_form(self, data, view, request):
        return None


class ContentNegotiation(DefaultContentNegotiation):
    """Offer the browsable API only when settings.API_BROWSABLE (DEBUG): otherwise `?format=api` is a 404 and
    browsers get JSON. Read per request, so that tests can switch it."""

    def select_renderer(self, request, renderers, format_suffix=None):
        from django.conf import settings

        if not getattr(settings, "API_BROWSABLE", False):
            renderers = [r for r in renderers if not isinstance(r, BrowsableAPIRenderer)]
        return super().select_renderer(request, renderers, format_suffix)
