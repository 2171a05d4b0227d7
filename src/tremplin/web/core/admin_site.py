"""The Django admin, signed in through allauth only (so that the second factor is always asked).

Django's own admin login form authenticates with a password alone; here `/admin/login/` never authenticates:
anonymous visitors are sent to allauth's login (password, then TOTP) with `next`, and the admin requires a
session in which the second factor was proved (core.security.session_mfa_verified).
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache

from tremplin.web.core.security import session_mfa_verified


class TremplinAdminSite(admin.AdminSite):
    def has_permission(self, request) -> bool:
        return super().has_permission(request) and session_mfa_verified(request)

    @method_decorator(never_cache)
    def login(self, request, extra_context=None):
        """No login form here: allauth signs people in (GET and POST alike are redirected, nothing is read)."""
        next_url = request.GET.get(REDIRECT_FIELD_NAME, "")
        if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()},
                                               require_https=request.is_secure()):
            next_url = reverse("admin:index", current_app=self.name)
        if request.user.is_authenticated:
            if self.has_permission(request):
                return HttpResponseRedirect(next_url)
            # Signed in without access to the admin: sending them to the login page would loop back here.
            raise PermissionDenied
        return redirect_to_login(next_url, login_url=reverse("account_login"))
