"""Organisations, territories and memberships pages."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST

from tremplin.web.accounts import selectors, services
from tremplin.web.accounts.forms import ApiTokenForm, MembershipForm, OrganisationForm, TerritoryImportForm
from tremplin.web.accounts.models import ApiToken, Membership, Organisation, OrganisationKind, Sector, Territory
from tremplin.web.accounts.rules import grantable_roles
from tremplin.web.core.access import LOGGED_IN, Expect, only_roles, view_access
from tremplin.web.core.querystring import query_choice, query_text
from tremplin.web.core.security import session_mfa_verified


def _organisation(request, pk: int, **kwargs) -> Organisation:
    return get_object_or_404(Organisation, pk=pk)


def _membership(request, pk: int, membership_pk: int, **kwargs) -> Organisation:
    return get_object_or_404(Organisation, pk=pk)


@view_access("accounts.view_organisation_list", expect=LOGGED_IN)
def organisation_list(request):
    sector = query_choice(request.GET, "sector", Sector.values)
    kind = query_choice(request.GET, "kind", OrganisationKind.values)
    query = query_text(request.GET, "q")
    organisations = selectors.organisation_list(sector=sector, kind=kind, query=query)
    page = Paginator(organisations, 50).get_page(request.GET.get("page"))
    template = "accounts/_organisation_rows.html" if request.htmx else "accounts/organisation_list.html"
    return render(request, template, {
        "page": page, "sectors": Sector.choices, "kinds": OrganisationKind.choices,
        "filters": {"sector": sector, "kind": kind, "q": query},
        "can_add": request.user.has_perm("accounts.add_organisation"),
    })


@view_access("accounts.view_organisation", expect=Expect(anonymous=302, default=200, sample="organisation"),
             get_object=_organisation)
def organisation_detail(request, pk: int, obj: Organisation):
    can_see_members = request.user.has_perm("accounts.view_membership_list", obj)
    memberships = list(obj.memberships.select_related("user")) if can_see_members else []
    revocable_roles = grantable_roles(request.user, obj)  # accounts.manage_membership_item, without N queries
    return render(request, "accounts/organisation_detail.html", {
        "organisation": obj, "memberships": memberships, "can_see_members": can_see_members,
        "can_edit": request.user.has_perm("accounts.change_organisation", obj),
        "can_manage": request.user.has_perm("accounts.manage_memberships", obj),
        "revocable": {m.pk for m in memberships if m.role in revocable_roles},
    })


@require_http_methods(["GET", "POST"])
@view_access("accounts.add_organisation", expect=only_roles("admin", "programme_manager"))
def organisation_create(request):
    form = OrganisationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        organisation = services.organisation_create(**form.cleaned_data)
        messages.success(request, _("Organisation créée."))
        return redirect("accounts:organisation-detail", pk=organisation.pk)
    return render(request, "accounts/organisation_form.html", {"form": form, "title": _("Nouvelle organisation")})


@require_http_methods(["GET", "POST"])
@view_access("accounts.change_organisation", get_object=_organisation,
             expect=only_roles("admin", sample="organisation"))
def organisation_edit(request, pk: int, obj: Organisation):
    form = OrganisationForm(request.POST or None, instance=obj)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Organisation mise à jour."))
        return redirect("accounts:organisation-detail", pk=obj.pk)
    return render(request, "accounts/organisation_form.html", {"form": form, "title": obj.name, "organisation": obj})


@require_http_methods(["GET", "POST"])
@view_access("accounts.manage_memberships", get_object=_organisation,
             expect=only_roles("admin", sample="organisation"))
def membership_add(request, pk: int, obj: Organisation):
    form = MembershipForm(request.POST or None, organisation=obj, grantable=grantable_roles(request.user, obj))
    if request.method == "POST" and form.is_valid():
        try:
            services.membership_grant(granted_by=request.user, user=form.cleaned_data["user"], organisation=obj,
                                      role=form.cleaned_data["role"],
                                      is_organisation_admin=form.cleaned_data["is_organisation_admin"])
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, _("Membre ajouté."))
            return redirect("accounts:organisation-detail", pk=obj.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "accounts/membership_form.html", {"form": form, "organisation": obj}, status=status)


@require_POST
@view_access("accounts.manage_memberships", get_object=_membership,
             expect=Expect(anonymous=302, default=403, roles={"admin": 302}, sample="organisation-membership",
                           methods=("POST",)))
def membership_remove(request, pk: int, membership_pk: int, obj: Organisation):
    membership = get_object_or_404(Membership, pk=membership_pk, organisation=obj)
    if not request.user.has_perm("accounts.manage_membership_item", membership):
        from tremplin.web.core.audit import audit_access_denied

        audit_access_denied(request=request, permission="accounts.manage_membership_item", obj=membership)
        raise PermissionDenied
    services.membership_revoke(revoked_by=request.user, membership=membership)
    messages.success(request, _("Membre retiré."))
    return redirect("accounts:organisation-detail", pk=obj.pk)


@view_access("accounts.view_territory_list", expect=LOGGED_IN)
def territory_list(request):
    territories = list(selectors.territory_list().order_by("code"))
    children: dict[int | None, list[Territory]] = {}
    for territory in territories:
        children.setdefault(territory.parent_id, []).append(territory)
    rows: list[tuple[int, Territory]] = []

    def walk(parent_id, depth):
        for t in sorted(children.get(parent_id, []), key=lambda t: t.name):
            rows.append((depth, t))
            walk(t.pk, depth + 1)

    walk(None, 0)
    return render(request, "accounts/territory_list.html", {
        "rows": rows, "can_import": request.user.has_perm("accounts.import_territories"),
        "organisation_counts": dict(
            Organisation.objects.values_list("territory_id").annotate(n=Count("id")).values_list("territory_id", "n")
        ),
    })


@require_http_methods(["GET", "POST"])
@view_access("accounts.import_territories", expect=only_roles("admin"))
def territory_import(request):
    form = TerritoryImportForm(request.POST or None, request.FILES or None)
    report = None
    if request.method == "POST" and form.is_valid():
        report = services.territories_import_csv(content=form.cleaned_data["file"].read())
        if report.ok:
            created = ngettext("%(n)s territoire créé", "%(n)s territoires créés", report.created) % {
                "n": report.created}
            updated = ngettext("%(n)s mis à jour", "%(n)s mis à jour", report.updated) % {"n": report.updated}
            messages.success(request, f"{created}, {updated}.")
            return redirect("accounts:territory-list")
    status = 400 if report is not None and not report.ok else 200
    return render(request, "accounts/territory_import.html", {"form": form, "report": report}, status=status)


def _api_token(request, pk: int, **kwargs) -> ApiToken:
    # Only one's own tokens exist here (platform admins included: they revoke others' in the Django admin).
    return get_object_or_404(ApiToken, pk=pk, user=request.user)


@require_http_methods(["GET", "POST"])
@view_access("accounts.manage_own_api_token", expect=LOGGED_IN)
def api_tokens(request):
    """The signed-in user's API tokens; POST creates one, whose key is shown on this response only.

    Users whose role requires a second factor reach this page only from an MFA-verified session
    (MfaRequiredMiddleware); the service refuses otherwise, and records whether the session was verified.
    """
    form = ApiTokenForm(request.POST or None)
    new_key = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                token, new_key = services.api_token_create(
                    user=request.user, name=form.cleaned_data["name"], scope=form.cleaned_data["scope"],
                    expires_on=form.cleaned_data["expires_on"], mfa_verified=session_mfa_verified(request))
            except ValidationError as exc:
                form.add_error(None, exc)
                status = 400
            else:
                messages.success(request, _("Jeton « %(name)s » créé : copiez-le maintenant, il ne sera plus "
                                            "affiché.") % {"name": token.name})
                form = ApiTokenForm()
        else:
            status = 400
    return render(request, "accounts/api_tokens.html", {
        "form": form, "new_key": new_key, "now": timezone.now(),
        "tokens": selectors.api_token_list_for_user(user=request.user),
    }, status=status)


@require_POST
@view_access("accounts.revoke_api_token", get_object=_api_token,
             expect=Expect(anonymous=302, default=404, sample="api-token", methods=("POST",)))
def api_token_revoke(request, pk: int, obj: ApiToken):
    services.api_token_revoke(token=obj)
    messages.success(request, _("Jeton « %(name)s » révoqué.") % {"name": obj.name})
    return redirect("accounts:api-tokens")
