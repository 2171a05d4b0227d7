"""Who grants which role (issue 12, item 2): an organisation's admin gives its own members the organisation-level
roles only; platform roles (programme manager, evaluator, reviewer, decision maker, admin) are granted and taken
away by platform admins. The attacks of the probe are replayed through the API and the pages, and so are their
consequences (what the attacker could read once it held the role)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from tests.web.calls.conftest import set_phase
from tests.web.conftest import login_mfa_verified
from tests.web.factories import OrganisationFactory, UserFactory, make_call
from tremplin.web.accounts import services
from tremplin.web.accounts.models import Membership, Role
from tremplin.web.calls import services as calls_services
from tremplin.web.core.models import AuditAction, AuditLog

pytestmark = pytest.mark.django_db

MEMBERSHIPS = "/api/v1/memberships/"
# Written out (not imported) so that the attacks replay against any version of the code.
PLATFORM = ["admin", "decision_maker", "evaluator", "programme_manager", "reviewer"]
ORGANISATION = ["innovator", "network_member"]


def test_every_role_is_either_organisation_level_or_platform_wide():
    from tremplin.web.accounts.rules import ORGANISATION_ROLES, PLATFORM_ROLES

    # A new role must be classified in accounts/rules.py before anyone can grant it.
    assert set(Role.values) == ORGANISATION_ROLES | PLATFORM_ROLES
    assert not ORGANISATION_ROLES & PLATFORM_ROLES
    assert set(PLATFORM) == PLATFORM_ROLES and set(ORGANISATION) == ORGANISATION_ROLES


@pytest.fixture
def world(make_user):
    """An innovator admin of its start-up, a network member admin of its hospital, a competitor's submitted
    proposal reviewed in a blind call now in review (reviewer e-mails in the reviews export), and another
    organisation's draft in an open call."""
    startup = OrganisationFactory(name="Jeune pousse attaquante", sector="private_for_profit", kind="startup")
    hospital = OrganisationFactory(name="Hôpital attaquant", kind="hospital")
    competitor = OrganisationFactory(name="Concurrent", sector="private_for_profit", kind="startup")
    innovator = make_user("innovator", organisation=startup, org_admin=True)
    member = make_user("network_member", organisation=hospital, org_admin=True)
    rival = make_user("innovator", organisation=competitor)
    reviewer = make_user("reviewer", email="juree-secrete@example.org")

    review_call = make_call("open", title="Appel en évaluation", reviewers_per_proposal=1)
    rival_proposal = calls_services.proposal_create(
        call=review_call, user=rival, organisation=competitor, title="Proposition concurrente", summary="s",
        description="d", budget_lines=[{"label": "Poste", "amount": 1000}])
    calls_services.proposal_submit(proposal=rival_proposal, user=rival)
    calls_services.assignment_add(proposal=rival_proposal, reviewer=reviewer)
    set_phase(review_call, "review")
    calls_services.review_save(proposal=rival_proposal, reviewer=reviewer, submit=True, comment="Avis",
                               scores={c.pk: (3, "") for c in review_call.criteria.all()})

    open_call = make_call("open", title="Appel ouvert")
    draft = calls_services.proposal_create(
        call=open_call, user=rival, organisation=competitor, title="Brouillon d'autrui", summary="s",
        description="d", budget_lines=[{"label": "Poste", "amount": 1000}])
    return {"startup": startup, "hospital": hospital, "innovator": innovator, "member": member,
            "review_call": review_call, "rival_proposal": rival_proposal, "draft": draft, "reviewer": reviewer}


def _roles(user) -> set[str]:
    return set(Membership.objects.filter(user=user).values_list("role", flat=True))


def _assert_reads_nothing_of_others(client, world, user):
    """What the probe read once it held the programme manager role: competitors' proposals (page and API),
    another organisation's draft, the ranking of a call in review, the reviews export with reviewer e-mails."""
    client.force_login(user)
    call = world["review_call"]
    for proposal in (world["rival_proposal"], world["draft"]):
        assert client.get(reverse("calls:proposal-detail", args=[proposal.pk])).status_code == 403
        assert client.get(f"/api/v1/proposals/{proposal.pk}/").status_code == 404
    listed = client.get("/api/v1/proposals/").json()["results"]
    assert {p["id"] for p in listed}.isdisjoint({world["rival_proposal"].pk, world["draft"].pk})
    assert client.get(reverse("calls:call-ranking", args=[call.pk])).status_code == 403
    export = client.get(reverse("calls:call-export", args=[call.pk]), {"what": "reviews"})
    assert export.status_code == 403
    assert world["reviewer"].email not in export.content.decode()


@pytest.mark.parametrize("role", PLATFORM)
def test_innovator_admin_of_its_startup_cannot_give_itself_a_platform_role_through_the_api(client, world, role):
    innovator, startup = world["innovator"], world["startup"]
    client.force_login(innovator)
    response = client.post(MEMBERSHIPS, {"user_email": innovator.email, "organisation": startup.pk, "role": role},
                           content_type="application/json")
    assert response.status_code == 400, response.content  # 201 before the fix
    assert "role" in response.json()
    assert _roles(innovator) == {"innovator"}
    innovator.refresh_from_db()
    assert not innovator.is_superuser and not innovator.is_staff
    assert AuditLog.objects.filter(action=AuditAction.ACCESS_DENIED, actor=innovator,
                                   object_repr__contains=role).exists()
    _assert_reads_nothing_of_others(client, world, innovator)


@pytest.mark.parametrize("role", PLATFORM)
def test_network_member_admin_cannot_give_itself_a_platform_role_through_the_page(client, world, role):
    member, hospital = world["member"], world["hospital"]
    client.force_login(member)
    url = reverse("accounts:membership-add", args=[hospital.pk])
    response = client.post(url, {"email": member.email, "role": role, "is_organisation_admin": "on"})
    assert response.status_code == 400  # a redirect (302) before the fix
    assert "role" in response.context["form"].errors
    assert _roles(member) == {"network_member"}
    _assert_reads_nothing_of_others(client, world, member)


@pytest.mark.parametrize("role", PLATFORM)
def test_organisation_admin_cannot_give_a_platform_role_to_an_accomplice(client, world, role):
    accomplice = UserFactory()
    client.force_login(world["innovator"])
    response = client.post(MEMBERSHIPS, {"user_email": accomplice.email, "organisation": world["startup"].pk,
                                         "role": role}, content_type="application/json")
    assert response.status_code == 400 and "role" in response.json()
    client.force_login(world["member"])
    response = client.post(reverse("accounts:membership-add", args=[world["hospital"].pk]),
                           {"email": accomplice.email, "role": role})
    assert response.status_code == 400
    assert not accomplice.memberships.exists()


def test_the_page_offers_organisation_admins_only_the_organisation_roles(client, world, admin_user):
    url = reverse("accounts:membership-add", args=[world["hospital"].pk])
    client.force_login(world["member"])
    response = client.get(url)
    assert response.status_code == 200
    assert [value for value, _label in response.context["form"].fields["role"].choices] == [
        r for r in Role.values if r in ORGANISATION]
    login_mfa_verified(client, admin_user)
    assert [v for v, _l in client.get(url).context["form"].fields["role"].choices] == list(Role.values)


@pytest.mark.parametrize("role", ORGANISATION)
def test_organisation_admins_still_grant_the_organisation_roles(client, world, role):
    newcomer = UserFactory()
    client.force_login(world["innovator"])
    response = client.post(MEMBERSHIPS, {"user_email": newcomer.email, "organisation": world["startup"].pk,
                                         "role": role, "is_organisation_admin": True}, content_type="application/json")
    assert response.status_code == 201, response.content
    client.force_login(world["member"])
    response = client.post(reverse("accounts:membership-add", args=[world["hospital"].pk]),
                           {"email": newcomer.email, "role": role})
    assert response.status_code == 302
    assert set(newcomer.memberships.values_list("organisation_id", "role")) == {
        (world["startup"].pk, role), (world["hospital"].pk, role)}


def test_organisation_admin_cannot_grant_in_an_organisation_it_does_not_manage(client, world):
    client.force_login(world["innovator"])
    response = client.post(MEMBERSHIPS, {"user_email": world["innovator"].email,
                                         "organisation": world["hospital"].pk, "role": "network_member"},
                           content_type="application/json")
    assert response.status_code == 400 and "organisation" in response.json()
    assert _roles(world["innovator"]) == {"innovator"}


@pytest.mark.parametrize("role", PLATFORM)
def test_platform_admins_grant_every_platform_role(client, world, admin_user, role):
    newcomer = UserFactory()
    login_mfa_verified(client, admin_user)
    response = client.post(MEMBERSHIPS, {"user_email": newcomer.email, "organisation": world["startup"].pk,
                                         "role": role}, content_type="application/json")
    assert response.status_code == 201, response.content
    assert _roles(newcomer) == {role}


@pytest.mark.parametrize("role", PLATFORM)
def test_organisation_admin_cannot_take_away_a_platform_role_held_in_its_organisation(client, world, make_user, role):
    holder = make_user(role, organisation=world["hospital"])
    membership = holder.memberships.get()
    client.force_login(world["member"])
    url = reverse("accounts:membership-remove", args=[world["hospital"].pk, membership.pk])
    assert client.post(url).status_code == 403
    assert client.delete(f"{MEMBERSHIPS}{membership.pk}/").status_code == 403
    assert Membership.objects.filter(pk=membership.pk).exists()
    page = client.get(reverse("accounts:organisation-detail", args=[world["hospital"].pk])).content.decode()
    assert url not in page  # no "remove" button for it
    # Organisation-level memberships stay the organisation's business.
    colleague = make_user("innovator", organisation=world["hospital"]).memberships.get()
    assert client.delete(f"{MEMBERSHIPS}{colleague.pk}/").status_code == 204


def test_service_refuses_platform_roles_to_organisation_admins_and_names_the_field(world, admin_user):
    from tremplin.web.accounts.rules import ORGANISATION_ROLES, grantable_roles

    member, hospital = world["member"], world["hospital"]
    assert grantable_roles(member, hospital) == ORGANISATION_ROLES
    assert grantable_roles(member, world["startup"]) == frozenset()
    assert grantable_roles(admin_user, hospital) == set(Role.values)
    with pytest.raises(ValidationError) as excinfo:
        services.membership_grant(granted_by=member, user=member, organisation=hospital, role="programme_manager")
    assert set(excinfo.value.message_dict) == {"role"}
    with pytest.raises(ValidationError) as excinfo:
        services.membership_grant(granted_by=member, user=member, organisation=world["startup"], role="innovator")
    assert set(excinfo.value.message_dict) == {"organisation"}
    with pytest.raises(ValidationError) as excinfo:
        services.membership_grant(granted_by=admin_user, user=member, organisation=hospital, role="emperor")
    assert set(excinfo.value.message_dict) == {"role"}
    assert _roles(member) == {"network_member"}
    granted = services.membership_grant(granted_by=admin_user, user=member, organisation=hospital, role="reviewer")
    assert granted.role == "reviewer" and _roles(member) == {"network_member", "reviewer"}
