"""Permission matrix: every URL pattern and API endpoint, discovered automatically, checked for
anonymous visitors and each role against the expectation declared next to the route.

A new view without a declaration (view_access / access_expect / declare_third_party) fails here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver

from tests.web.conftest import api_token_for, login_mfa_verified
from tests.web.factories import MembershipFactory, OrganisationFactory, TerritoryFactory, UserFactory
from tremplin.web.core.access import ROLES, THIRD_PARTY_ROUTES, Expect
from tremplin.web.jobs.models import Job

# Organisation admins (issue 12): each manages its own organisation and is expected to get what its role gets,
# unless a declaration names it in `Expect.roles`. (It manages none of the sample objects' organisations.)
ORGANISATION_ADMINS: dict[str, str] = {
    "innovator+org_admin": "innovator",  # innovator, admin of its start-up
    "network_member+org_admin": "network_member",  # network member, admin of its hospital
}
# Admin last: some POST routes remove their sample object.
PERSONAS: tuple[str | None, ...] = (None, *[r for r in ROLES if r != "admin"], *ORGANISATION_ADMINS, "admin")


def expected_status(expect: Expect, persona: str | None) -> int:
    if persona in expect.roles:
        return expect.roles[persona]
    return expect.status_for(ORGANISATION_ADMINS.get(persona, persona))


@dataclass(frozen=True)
class Route:
    path_regex: str
    name: str
    callback: object
    kwarg_names: tuple[str, ...]

    @property
    def id(self) -> str:
        return f"{self.name or '?'} {self.path_regex}"


def _walk(patterns, prefix: str = "", namespace: str = ""):
    for p in patterns:
        if isinstance(p, URLResolver):
            ns = namespace
            if p.namespace:
                ns = f"{namespace}{p.namespace}:"
            yield from _walk(p.url_patterns, prefix + _regex(p), ns)
        elif isinstance(p, URLPattern):
            regex = prefix + _regex(p)
            names = tuple(re.findall(r"\(\?P<(\w+)>", regex))
            yield Route(regex, f"{namespace}{p.name or '<unnamed>'}", p.callback, names)


def _regex(p) -> str:
    return p.pattern.regex.pattern.lstrip("^").rstrip("$").replace("\\Z", "")


ROUTES = list(_walk(get_resolver().url_patterns))


def declaration(route: Route) -> Expect | None:
    """The expectation declared for a route, or None when nothing is declared."""
    access = getattr(route.callback, "tremplin_access", None)
    if access is not None:
        return access.expect
    cls = getattr(route.callback, "cls", None)
    if cls is not None and hasattr(cls, "access_expect"):
        detail = route.name.endswith("-detail")
        return getattr(cls, "access_expect_detail", cls.access_expect) if detail else cls.access_expect
    matches = [prefix for prefix in THIRD_PARTY_ROUTES if route.name.startswith(prefix)]
    if matches:
        return THIRD_PARTY_ROUTES[max(matches, key=len)]
    return None


def test_every_route_has_an_access_declaration():
    undeclared = [r.id for r in ROUTES if declaration(r) is None]
    assert not undeclared, "Routes without an access declaration:\n" + "\n".join(undeclared)


def test_matrix_covers_api_and_pages():
    names = {r.name for r in ROUTES}
    for expected in ("core:dashboard", "accounts:organisation-list", "v1:organisation-list",
                     "v1:territory-detail", "v1:membership-list", "api-schema", "account_login"):
        assert expected in names


def _attempt_platform_roles(user, organisation) -> None:
    """The probe's attack: an organisation admin grants itself every platform role (the service the API and the
    pages share). Each grant is refused, so the whole matrix then runs after the refused attack."""
    from django.core.exceptions import ValidationError

    from tremplin.web.accounts.rules import PLATFORM_ROLES
    from tremplin.web.accounts.services import membership_grant

    for role in sorted(PLATFORM_ROLES):
        with pytest.raises(ValidationError):
            membership_grant(granted_by=user, user=user, organisation=organisation, role=role)
    user.refresh_from_db()  # forget the cached roles


class World:
    """Objects used to fill URL parameters; no persona belongs to `organisation`."""

    def __init__(self, make_user):
        self.users = {role: make_user(role) for role in ROLES}
        self.own_organisations = {}
        for persona, role in ORGANISATION_ADMINS.items():
            own = OrganisationFactory(kind="startup" if role == "innovator" else "hospital",
                                      sector="private_for_profit" if role == "innovator" else "public")
            self.users[persona] = make_user(role, organisation=own, org_admin=True)
            self.own_organisations[persona] = own
            _attempt_platform_roles(self.users[persona], own)
        self.territory = TerritoryFactory()
        self.organisation = OrganisationFactory(territory=self.territory)
        self.membership = MembershipFactory(organisation=self.organisation)
        outsider = UserFactory()
        self.job = Job.objects.create(kind="demo.count", label="sample", created_by=outsider)
        from tests.web.factories import ConsultationFactory, ProblemFactory, QuestionFactory

        self.problem = ProblemFactory(organisation=self.organisation, created_by=outsider)
        from tremplin.web.problems.models import ProblemComment

        self.comment = ProblemComment.objects.create(problem=self.problem, author=outsider, text="Témoin")
        self.consultation = ConsultationFactory(problem=self.problem)
        QuestionFactory(consultation=self.consultation)
        self._calls_samples()
        self._portfolio_samples()
        self._evaluations_samples()
        self._horizon_samples(outsider)
        self._campaign_samples(outsider)
        from tremplin.web.accounts.models import ApiToken

        self._notifications_samples()
        api_token_for(outsider)  # an API token of a user who is none of the personas
        self.api_token = ApiToken.objects.get(user=outsider)

    def _calls_samples(self) -> None:
        """An open call with a submitted proposal (of `organisation`, assigned to nobody) and a PDF, and a
        call whose decisions are released."""
        from django.core.files.base import ContentFile

        from tests.web.factories import make_call
        from tremplin.web.calls import services as calls_services
        from tremplin.web.calls.models import Attachment, Proposal

        self.call = make_call("open")
        self.proposal = Proposal.objects.create(call=self.call, organisation=self.organisation, title="Témoin",
                                                summary="Résumé", description="Description", status="submitted",
                                                requested_amount=1000)
        self.attachment = Attachment(proposal=self.proposal, original_name="dossier.pdf", size=20)
        self.attachment.file.save("dossier.pdf", ContentFile(b"%PDF-1.4\n%%EOF\n"), save=True)
        self.released_call = make_call("results", title="Appel publié")
        released = Proposal.objects.create(call=self.released_call, organisation=self.organisation, title="Retenue",
                                           summary="Résumé", description="Description", status="submitted",
                                           requested_amount=1000)
        calls_services.decision_record(proposal=released, outcome="selected", reason="Excellente")
        calls_services.decisions_release(call=self.released_call)

    def _notifications_samples(self) -> None:
        """A mail to an outsider, held in the outbox."""
        from tremplin.web.notifications.services import mail_queue

        (self.mail,) = mail_queue(kind="calls.assigned", recipients=[UserFactory()], scope=self.call, hold=True,
                                  context={"call_title": self.call.title, "count": "1", "queue_url": "/"})

    def _portfolio_samples(self) -> None:
        """An experiment led by `organisation` (no persona is involved) with an evaluation plan."""
        from datetime import date

        from tremplin.web.portfolio import services as portfolio_services

        self.experiment = portfolio_services.experiment_create(
            title="Expérimentation témoin", lead_organisation=self.organisation, territories=[self.territory],
            start_date=date(2025, 1, 1), authorisation_end=date(2026, 1, 1), legal_framework="article_51")
        portfolio_services.milestone_add(experiment=self.experiment, name="Inclusions", due_date=date(2025, 6, 1))
        portfolio_services.evaluation_plan_register(
            experiment=self.experiment, treated_territories=[self.territory],
            comparison_territories=[TerritoryFactory(), TerritoryFactory()], primary_outcome="hospitalisation_rate",
            baseline_mean=12.0, baseline_sd=1.0, expand_criteria="Baisse ≥ 5 %", stop_criteria="Aucune baisse")
        portfolio_services.deadlines_article51(experiment=self.experiment)

    def _evaluations_samples(self) -> None:
        """A dataset and a queued run of the sample plan, both by an outsider, and a published run."""
        from django.utils import timezone

        from tremplin.web.evaluations.models import Dataset, Run

        outsider = UserFactory()
        self.plan = self.experiment.evaluation_plan
        self.dataset = Dataset.objects.create(name="Données témoin", source="path", source_path="/nowhere",
                                              created_by=outsider)
        self.run = Run.objects.create(plan=self.plan, dataset=self.dataset, dataset_fingerprint="0" * 64,
                                      estimator="cs", engine_version="0", created_by=outsider)
        self.published_run = Run.objects.create(
            plan=self.plan, dataset=self.dataset, dataset_fingerprint="0" * 64, estimator="cs", engine_version="0",
            created_by=outsider, status="succeeded", published_at=timezone.now(),
            publication={"headline": None, "trends": [], "threshold": 11})

    def _horizon_samples(self, outsider) -> None:
        """A watched signal stewarded by an outsider (no persona is its steward or on the panel)."""
        from tremplin.web.horizon import services as horizon_services

        self.signal = horizon_services.signal_create(
            created_by=outsider, title="Signal témoin", summary="Résumé", domain="ai", horizon="short", likelihood=3,
            problems=[self.problem], is_public=True)

    def _campaign_samples(self, outsider) -> None:
        """A coalition led by `organisation` (no persona runs it), one organisation in it, a campaign."""
        from datetime import date

        from tremplin.web.campaign import services as campaign_services

        self.coalition = campaign_services.coalition_create(name="Coalition témoin",
                                                            lead_organisation=self.organisation, by=outsider)
        self.coalition_member = campaign_services.member_add(coalition=self.coalition,
                                                             organisation=OrganisationFactory(), by=outsider)
        self.campaign = campaign_services.campaign_create(coalition=self.coalition, name="Campagne témoin",
                                                          starts_on=date(2025, 1, 1), by=outsider)

    def kwargs(self, route: Route, sample: str | None) -> dict | None:
        values = {
            "organisation": {"pk": self.organisation.pk},
            "territory": {"pk": self.territory.pk},
            "membership": {"pk": self.membership.pk},
            "organisation-membership": {"pk": self.organisation.pk, "membership_pk": self.membership.pk},
            "job": {"pk": self.job.pk},
            "problem": {"pk": self.problem.pk},
            "consultation": {"pk": self.consultation.pk},
            "call": {"pk": self.call.pk},
            "released-call": {"pk": self.released_call.pk},
            "proposal": {"pk": self.proposal.pk},
            "attachment": {"pk": self.proposal.pk, "attachment_pk": self.attachment.pk},
            "experiment": {"pk": self.experiment.pk},
            "plan": {"pk": self.plan.pk},
            "dataset": {"pk": self.dataset.pk},
            "run": {"pk": self.run.pk},
            "published-run": {"pk": self.published_run.pk},
            "signal": {"pk": self.signal.pk},
            "coalition": {"pk": self.coalition.pk},
            "coalition-member": {"pk": self.coalition_member.pk},
            "campaign": {"pk": self.campaign.pk},
            "api-token": {"pk": self.api_token.pk},
            "follow-problem": {"target": "problematique", "pk": self.problem.pk},
            "comment": {"pk": self.comment.pk},
            "mail": {"pk": self.mail.pk},
            "mail-kind": {"kind": "notifications.digest"},
            "call-mail": {"scope": "appel", "pk": self.call.pk},
            "call-mail-kind": {"scope": "appel", "pk": self.call.pk, "kind": "calls.decision.selected"},
            "admin": {"app_label": "accounts"},
            "allauth": {"key": "invalid-key", "uidb36": "zz", "authenticator_id": "999999"},
        }.get(sample or "", {})
        values = {**values, "format": "json"}
        if not set(route.kwarg_names) <= set(values):
            return None
        return {k: values[k] for k in route.kwarg_names}


def _url(route: Route, kwargs: dict) -> str:
    path = route.path_regex
    for name, value in kwargs.items():
        group_regex = r"\(\?P<" + name + r">([^)]*)\)"
        group = re.search(group_regex, path)
        if group and group.group(1).startswith("\\.") and not str(value).startswith("."):
            value = f".{value}"  # DRF's root format suffix puts the dot inside the group
        path = re.sub(group_regex, str(value), path, count=1)
    path = path.replace("\\.", ".").replace("/?", "/").replace("\\", "")
    path = re.sub(r"\(\?:[^)]*\)\??", "", path)
    return "/" + path


@pytest.mark.parametrize("route", ROUTES, ids=[r.id for r in ROUTES])
def test_route_access_matches_declaration(route, client, make_user):
    expect = declaration(route)
    assert expect is not None, f"{route.id} has no access declaration"
    world = World(make_user)
    kwargs = world.kwargs(route, expect.sample)
    if kwargs is None:
        if route.name.startswith("admin:"):
            # Admin object routes: only check that nobody but a platform admin gets in.
            kwargs = dict.fromkeys(route.kwarg_names, "1")
            if "app_label" in kwargs:
                kwargs["app_label"] = "accounts"
            personas = [p for p in PERSONAS if p != "admin"]
        else:
            pytest.fail(f"{route.id}: cannot fill URL parameters {route.kwarg_names} (declare a sample)")
    else:
        personas = list(PERSONAS)
    url = _url(route, kwargs)
    mismatches = []
    for persona in personas:
        client.logout()
        if persona is not None:
            login_mfa_verified(client, world.users[persona])  # the second factor proved in this session
        method = expect.methods[0].lower()
        response = getattr(client, method)(url)
        expected = expected_status(expect, persona)
        if response.status_code != expected:
            mismatches.append(f"{persona or 'anonymous'}: {method.upper()} {url} -> {response.status_code}, "
                              f"declared {expected}")
        assert response.status_code < 500, f"{url} failed for {persona}: {response.status_code}"
    assert not mismatches, "\n".join(mismatches)


@pytest.mark.parametrize("persona", list(ORGANISATION_ADMINS))
def test_organisation_admin_personas_manage_their_own_organisation_only(client, make_user, persona):
    """The organisation admin personas do manage an organisation (theirs), and nothing else: the matrix above
    checks every route against the sample objects, which belong to an organisation they do not manage."""
    from django.urls import reverse

    world = World(make_user)
    user, own = world.users[persona], world.own_organisations[persona]
    client.force_login(user)
    for name in ("accounts:organisation-edit", "accounts:membership-add"):
        assert client.get(reverse(name, args=[own.pk])).status_code == 200
        assert client.get(reverse(name, args=[world.organisation.pk])).status_code == 403
    assert set(user.memberships.values_list("role", flat=True)) == {ORGANISATION_ADMINS[persona]}


# Pages a password-only session of a user who must use a second factor may still open.
MFA_PROMPT_ROUTES = {"mfa_reauthenticate", "account_logout", "set_language", "mfa_authenticate"}


@pytest.mark.parametrize("role", sorted(settings.MFA_REQUIRED_ROLES))
def test_password_only_session_reaches_nothing(role, client, make_user):
    """Issue 12 item 1: users whose role requires a second factor, signed in without proving it in this session
    (force_login: a password only), reach no route but the second-factor prompt: every page sends them to it,
    every API operation is 403."""
    from django.urls import reverse

    world = World(make_user)
    client.force_login(world.users[role])
    prompt = reverse("mfa_reauthenticate")
    served = []
    for route in ROUTES:
        if route.name in MFA_PROMPT_ROUTES:
            continue
        expect = declaration(route)
        kwargs = world.kwargs(route, expect.sample)
        if kwargs is None:
            kwargs = {k: ("accounts" if k == "app_label" else "1") for k in route.kwarg_names}
        url = _url(route, kwargs)
        response = getattr(client, expect.methods[0].lower())(url)
        if url.startswith("/api/"):
            refused = response.status_code == 403
        else:
            refused = response.status_code == 302 and response["Location"].startswith(prompt)
        if not refused:
            served.append(f"{expect.methods[0]} {url} -> {response.status_code} {response.get('Location', '')}")
    assert not served, "Reached without a second factor:\n" + "\n".join(served)
