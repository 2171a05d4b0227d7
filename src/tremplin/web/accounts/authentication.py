"""DRF authentication by personal API token: `Authorization: Bearer <key>` (see models.ApiToken).

- unknown, expired or revoked tokens, or a disabled account: 401;
- a read-only token on an unsafe method (POST, PUT, PATCH, DELETE): 403;
- a token created without a second factor, for a user whose role requires one: 403 on every endpoint
  (care-data endpoints also refuse such tokens whoever holds them: core.api.RulesPermission);
- after API_TOKEN_FAILURE_LIMIT rejected tokens from one address within API_TOKEN_FAILURE_WINDOW_SECONDS,
  every bearer request from it gets 429 until the window has passed (counted in Django's cache, per process
  with the default local-memory cache). Keys carry 256 random bits, so guessing is hopeless anyway; this stops
  a script from trying.
Scope and second-factor rules are enforced here, at authentication, so that every DRF view honours them
whatever its permission classes.
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import SAFE_METHODS

from tremplin.web.accounts import selectors, services
from tremplin.web.accounts.models import ApiTokenScope
from tremplin.web.core.audit import client_ip

KEYWORD = "Bearer"
WWW_AUTHENTICATE = f'{KEYWORD} realm="api"'


class TokenRejected(exceptions.APIException):
    """401 with a WWW-Authenticate header. Not an AuthenticationFailed: DRF turns those into 403 when the first
    authentication class (the session) has no header to offer."""

    status_code = 401
    default_detail = _("Jeton d'API invalide, expiré ou révoqué.")
    default_code = "token_rejected"
    auth_header = WWW_AUTHENTICATE


def _failure_cache_key(request) -> str:
    return f"tremplin:api-token-failures:{client_ip(request) or '-'}"


def _reject(request) -> TokenRejected:
    """Count one rejected token for the request's address; the exception to raise."""
    key, window = _failure_cache_key(request), settings.API_TOKEN_FAILURE_WINDOW_SECONDS
    if not cache.add(key, 1, timeout=window):
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=window)
    return TokenRejected()


class ApiTokenAuthentication(BaseAuthentication):
    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != KEYWORD.lower().encode():
            return None
        if (cache.get(_failure_cache_key(request)) or 0) >= settings.API_TOKEN_FAILURE_LIMIT:
            raise exceptions.Throttled(
                wait=settings.API_TOKEN_FAILURE_WINDOW_SECONDS,
                detail=gettext("Trop de jetons refusés depuis cette adresse : réessayez plus tard."))
        if len(parts) != 2:
            raise _reject(request)
        try:
            key = parts[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise _reject(request) from exc
        token = selectors.api_token_for_key(key=key)
        now = timezone.now()
        if token is None or not token.is_active_at(now) or not token.user.is_active:
            raise _reject(request)
        from tremplin.web.core.security import mfa_required

        if mfa_required(token.user) and not token.mfa_verified:
            raise exceptions.PermissionDenied(
                _("Ce jeton a été créé sans double authentification : créez-en un autre après avoir saisi votre "
                  "code."))
        if token.scope == ApiTokenScope.READ and request.method not in SAFE_METHODS:
            raise exceptions.PermissionDenied(_("Ce jeton est en lecture seule."))
        services.api_token_touch(token=token, now=now)
        return token.user, token

    def authenticate_header(self, request):
        return WWW_AUTHENTICATE


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """OpenAPI: the personal tokens as an HTTP bearer scheme."""

    target_class = "tremplin.web.accounts.authentication.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "Personal API token, created on the account's \"API tokens\" page: header "
                "`Authorization: Bearer <token>`. Scope read-only (safe methods only, 403 otherwise) or "
                "read-write; expires after at most one year; unknown, expired or revoked tokens get 401. Tokens "
                "created without a second factor never reach care data."),
        }
