"""Security middleware: session lifetime, mandatory MFA for sensitive roles, no-store, audit context."""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import NoReverseMatch, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from tremplin.web.core import audit, security


class SessionLifetimeMiddleware:
    """Log out sessions older than SESSION_ABSOLUTE_HOURS (inactivity is SESSION_COOKIE_AGE, sliding)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            started = request.session.get("tremplin_login_at")
            if started is None:
                request.session["tremplin_login_at"] = time.time()
            elif time.time() - float(started) > settings.SESSION_ABSOLUTE_HOURS * 3600:
                logout(request)
                messages.info(request, _("Votre session a expiré : veuillez vous reconnecter."))
                return redirect(settings.LOGIN_URL)
        return self.get_response(request)


def _prefixes(names: list[str]) -> tuple[str, ...]:
    prefixes = [settings.STATIC_URL]
    for name in names:
        try:
            prefixes.append(reverse(name))
        except NoReverseMatch:
            continue
    return tuple(prefixes)


# Without a TOTP yet: the pages needed to set one up (activation asks for a re-authentication first).
_ENROLMENT_EXEMPT = ["mfa_index", "mfa_activate_totp", "mfa_view_recovery_codes", "mfa_generate_recovery_codes",
                     "mfa_download_recovery_codes", "account_logout", "set_language", "account_email",
                     "account_confirm_email", "account_login", "account_reauthenticate",
                     "account_request_reauthentication_code", "account_confirm_reauthentication_code"]
# With a TOTP not yet used in this session: only the second-factor prompt itself. Recovery codes, the
# authenticators page and password re-authentication stay closed: from a password-only session they would
# hand out a second factor.
_VERIFICATION_EXEMPT = ["mfa_reauthenticate", "account_logout", "set_language"]


class MfaRequiredMiddleware:
    """Users who must use a second factor (core.security.mfa_required: superusers, staff, the roles of
    MFA_REQUIRED_ROLES) reach MFA-protected pages only from a session in which they proved it
    (core.security.session_mfa_verified). Without a TOTP they are sent to set one up; with one, to
    allauth's second-factor prompt (mfa_reauthenticate), back to the page they asked for afterwards. Having a
    TOTP configured is not enough: a password-only session (e.g. from another login form) is refused."""

    def __init__(self, get_response):
        self.get_response = get_response
        self._exempt: dict[bool, tuple[str, ...]] = {}

    def _exempt_for(self, enrolled: bool) -> tuple[str, ...]:
        if enrolled not in self._exempt:
            self._exempt[enrolled] = _prefixes(_VERIFICATION_EXEMPT if enrolled else _ENROLMENT_EXEMPT)
        return self._exempt[enrolled]

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and not security.session_mfa_verified(request)
            and security.mfa_required(user)
        ):
            enrolled = security.has_totp(user)
            if not request.path.startswith(self._exempt_for(enrolled)):
                return self._refuse(request, enrolled=enrolled)
        return self.get_response(request)

    @staticmethod
    def _refuse(request, *, enrolled: bool):
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": _("Double authentification requise.")}, status=403)
        if not enrolled:
            messages.warning(
                request,
                _("Votre rôle donne accès à des données de santé : activez la double "
                  "authentification (application TOTP) pour continuer."),
            )
            return redirect("mfa_activate_totp")
        messages.info(request, _("Confirmez votre identité avec votre second facteur (code TOTP) pour continuer."))
        next_url = request.get_full_path() if request.method == "GET" else ""
        target = reverse("mfa_reauthenticate")
        return redirect(f"{target}?{urlencode({'next': next_url})}" if next_url else target)


class NoStoreMiddleware:
    """Authenticated pages must not be cached by browsers or proxies."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not request.path.startswith(settings.STATIC_URL):
            response["Cache-Control"] = "no-store"
            response["Pragma"] = "no-cache"
        return response


class AuditContextMiddleware:
    """Make the current user, IP and path available to the audit signal handlers."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        token = audit.set_context(user=user, ip=audit.client_ip(request), path=request.path, request=request)
        try:
            return self.get_response(request)
        finally:
            audit.reset_context(token)
