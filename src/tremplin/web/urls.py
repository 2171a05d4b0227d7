"""Root URLs. Every route has an explicit access declaration (see core/access.py)."""

from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib import admin
from django.urls import include, path
from django.views.i18n import set_language
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from tremplin.web.core.access import Expect, declare_third_party

admin.site.site_header = "Tremplin — administration"
admin.site.site_title = "Tremplin"

urlpatterns = [
    path("", include("tremplin.web.core.urls")),
    path("", include("tremplin.web.accounts.urls")),
    path("taches/", include("tremplin.web.jobs.urls")),
    path("problematiques/", include("tremplin.web.problems.urls")),
    path("appels/", include("tremplin.web.calls.urls")),
    path("experimentations/", include("tremplin.web.portfolio.urls")),
    path("evaluations/", include("tremplin.web.evaluations.urls")),
    path("veille/", include("tremplin.web.horizon.urls")),
    path("campagnes/", include("tremplin.web.campaign.urls")),
    path("", include("tremplin.web.notifications.urls")),
    path("compte/", include("allauth.urls")),
    path("i18n/setlang/", set_language, name="set_language"),
    path("admin/", admin.site.urls),
    path("api/v1/", include((("tremplin.web.api_urls"), "v1"), namespace="v1")),
    path("api/schema/", SpectacularAPIView.as_view(api_version="v1"), name="api-schema"),
    # Swagger UI (served offline from drf-spectacular-sidecar) injects styles: allow inline *styles*
    # on this page only; scripts stay restricted to 'self'.
    path("api/docs/", csp_update({"style-src": [UNSAFE_INLINE]})(
        SpectacularSwaggerSplitView.as_view(url_name="api-schema")), name="api-docs"),
]

# Uncaught errors (DEBUG off): 500, or 503 when the database is unavailable; the page needs no database.
handler500 = "tremplin.web.core.errors.server_error"

# Declarations for routes whose views come from libraries. Keys are URL-name prefixes
# (or "namespace:" prefixes); the permission-matrix test uses them.
declare_third_party("set_language", Expect(anonymous=302, default=302))
declare_third_party("api-schema", Expect(anonymous=403, default=200))
declare_third_party("api-docs", Expect(anonymous=403, default=200))
declare_third_party("admin:", Expect(anonymous=302, default=302, roles={"admin": 200}, sample="admin"))
# Read-only admin models (audit log, jobs, broker and throttling records): nobody can add rows.
for _model in ("core_auditlog", "accounts_apitoken", "jobs_job", "django_q_success", "django_q_failure", "django_q_ormq",
               "axes_accessattempt", "axes_accesslog", "axes_accessfailurelog"):
    declare_third_party(f"admin:{_model}_add", Expect(anonymous=302, default=302, roles={"admin": 403}))
# The admin signs in through allauth only (core/admin_site.py): anonymous visitors are redirected to it, signed-in
# users without access to the admin are refused (a redirect would loop).
declare_third_party("admin:login", Expect(anonymous=302, default=403, roles={"admin": 302}))
declare_third_party("admin:logout", Expect(anonymous=302, default=302, roles={"admin": 405}))
declare_third_party("admin:autocomplete", Expect(anonymous=302, default=302, roles={"admin": 403}))
declare_third_party("v1:api-root", Expect(anonymous=403, default=200))
# allauth: public authentication pages; signed-in users are redirected away from login/signup.
declare_third_party("account_login", Expect(anonymous=200, default=302))
declare_third_party("account_signup", Expect(anonymous=200, default=302))
declare_third_party("account_logout", Expect(anonymous=302, default=200))
declare_third_party("account_reset_password", Expect(anonymous=200, default=200, sample="allauth"))
declare_third_party("account_confirm_email", Expect(anonymous=200, default=200, sample="allauth"))
declare_third_party("account_email_verification_sent", Expect(anonymous=200, default=200))
declare_third_party("account_inactive", Expect(anonymous=200, default=200))
declare_third_party("account_email", Expect(anonymous=302, default=200))
declare_third_party("account_change_password", Expect(anonymous=302, default=200))
declare_third_party("account_set_password", Expect(anonymous=302, default=302))
declare_third_party("account_reauthenticate", Expect(anonymous=302, default=200))
declare_third_party("account_login_code", Expect(anonymous=302, default=302, sample="allauth"))
declare_third_party("account_request_login_code", Expect(anonymous=200, default=302))
declare_third_party("account_confirm_login_code", Expect(anonymous=302, default=302))
# allauth 65.22: re-authentication by a code sent by e-mail (login by code is on); without a pending
# code the confirmation page sends the user back.
declare_third_party("account_request_reauthentication_code", Expect(anonymous=302, default=200))
declare_third_party("account_confirm_reauthentication_code", Expect(anonymous=302, default=302))
# allauth MFA pages: what a signed-in user gets depends on whether a TOTP is set up (the admin and
# evaluator personas have one) and on a recent re-authentication (redirects, 302).
declare_third_party("mfa_index", Expect(anonymous=302, default=200))
declare_third_party("mfa_authenticate", Expect(anonymous=302, default=302))
declare_third_party("mfa_reauthenticate", Expect(anonymous=302, default=302, roles={"admin": 200, "evaluator": 200}))
declare_third_party("mfa_activate_totp", Expect(anonymous=302, default=302))
declare_third_party("mfa_deactivate_totp", Expect(anonymous=302, default=404, roles={"admin": 302, "evaluator": 302}))
declare_third_party("mfa_view_recovery_codes", Expect(anonymous=302, default=404))
declare_third_party("mfa_generate_recovery_codes", Expect(anonymous=302, default=302))
declare_third_party("mfa_download_recovery_codes", Expect(anonymous=302, default=404))
