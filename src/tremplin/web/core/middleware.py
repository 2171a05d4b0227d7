"""Security middleware: session lifetime, mandatory MFA for sensitive roles, no-store, audit context."""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.shortcuts import redirect
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _

from tremplin.web.core import audit


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


def _mfa_exempt_prefixes() -> tuple[str, ...]:
    names = ["mfa_index", "mfa_activate_totp", "mfa_view_recovery_codes", "mfa_generate_recovery_codes",
             "mfa_download_recovery_codes", "account_logout", "set_language", "account_email",
             "account_confirm_email", "account_login", "account_reauthenticate",
             "account_request_reauthentication_code", "account_confirm_reauthentication_code"]  # activation needs re-auth
    prefixes = [settings.STATIC_URL]
    for name in names:
        try:
            prefixes.append(reverse(name))
        except NoReverseMatch:
            continue
    return tuple(prefixes)


class MfaRequiredMiddleware:
    """Users with a role that reaches care data (admin, evaluator) must set up a second factor."""

    def __init__(self, get_response):
        self.get_response = get_response
        self._exempt: tuple[str, ...] | None = None

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and not request.session.get("tremplin_mfa_ok")
            and (user.is_superuser or user.has_role(*settings.MFA_REQUIRED_ROLES))
        ):
            from allauth.mfa.models import Authenticator

            if Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
                request.session["tremplin_mfa_ok"] = True
            else:
                if self._exempt is None:
                    self._exempt = _mfa_exempt_prefixes()
                if not request.path.startswith(self._exempt):
                    if request.path.startswith("/api/"):
                        from django.http import JsonResponse

                        return JsonResponse({"detail": _("Double authentification requise.")}, status=403)
                    messages.warning(
                        request,
                        _("Votre rôle donne accès à des données de santé : activez la double "
                          "authentification (application TOTP) pour continuer."),
                    )
                    return redirect("mfa_activate_totp")
        return self.get_response(request)


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
