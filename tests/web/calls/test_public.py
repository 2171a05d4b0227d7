"""Public list of open calls and public call pages (issue 18, item 7): anonymous visitors find a call and what
they need to answer it; nothing else (no proposal, no applicant, no problem of the network, no manager tool)."""

from __future__ import annotations

import html
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.web.calls.conftest import APPLICANT_NAME, INNOVATOR_NAME, PARTNER_NAME
from tests.web.factories import ProblemFactory, TerritoryFactory, make_call
from tremplin.web.calls import services

pytestmark = pytest.mark.django_db


def test_anonymous_visitors_see_the_open_calls_and_can_filter(client):
    region = TerritoryFactory(level="region")
    department = TerritoryFactory(parent=region)
    open_call = make_call("open", title="Appel ouvert : santé mentale", text="Repérage précoce des troubles.")
    local = make_call("open", title="Appel local", eligible_sectors=["social_economy"],
                      eligible_territories=[department])
    make_call("draft", title="Brouillon secret")
    make_call("review", title="Appel en évaluation")
    response = client.get(reverse("calls:call-list"))
    assert response.status_code == 200
    assert {c.title for c in response.context["calls"]} == {open_call.title, local.title}  # open ones by default
    assert "Brouillon secret" not in response.content.decode()
    assert "Propositions soumises" not in response.content.decode()  # counts are for signed-in users
    titles = lambda **q: {c.title for c in client.get(reverse("calls:call-list"), q).context["calls"]}  # noqa: E731
    assert titles(q="précoce") == {open_call.title}
    assert titles(sector="social_economy") == {open_call.title, local.title}  # the first is open to all sectors
    assert titles(sector="public") == {open_call.title}
    # A territory: calls open to every territory, and those open to it or to a territory containing it.
    assert titles(territory=department.pk) == {open_call.title, local.title}
    assert titles(territory=region.pk) == {open_call.title}
    assert titles(phase="review") == {"Appel en évaluation"}
    assert titles(phase="draft") == set()  # drafts stay hidden, whatever the query string says
    assert titles(phase="all") == {open_call.title, local.title, "Appel en évaluation"}


def test_a_public_call_page_shows_what_applicants_need_and_nothing_more(client, scenario):
    problem = ProblemFactory(title="Problème interne du réseau")
    services.call_update(call=scenario.call, problems=[problem], text="Le texte public de l'appel.")
    scenario.propose("Proposition confidentielle")
    response = client.get(reverse("calls:call-detail", args=[scenario.call.pk]))
    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    assert "Le texte public de l'appel." in page and "Valeur clinique" in page  # text and evaluation grid
    assert reverse("account_login") + "?next=" + reverse("calls:proposal-create", args=[scenario.call.pk]) in page
    for secret in ("Proposition confidentielle", APPLICANT_NAME, PARTNER_NAME, INNOVATOR_NAME,
                   "Problème interne du réseau", reverse("calls:call-ranking", args=[scenario.call.pk]),
                   reverse("calls:call-assignments", args=[scenario.call.pk]), "Propositions :"):
        assert secret not in page, secret
    # Signed in, the network's members see the problems behind the call.
    client.force_login(scenario.reviewers[0])
    signed_in = client.get(reverse("calls:call-detail", args=[scenario.call.pk])).content.decode()
    assert "Problème interne du réseau" in html.unescape(signed_in)


def test_blind_and_open_calls_show_the_same_public_page(client, scenario):
    scenario.propose()
    url = reverse("calls:call-detail", args=[scenario.call.pk])
    blind = client.get(url).content.decode()
    services.call_update(call=scenario.call, blind_review=False)
    visible = client.get(url).content.decode()

    def main(text: str) -> str:  # the page's content, tokens aside, without the words naming the setting
        text = html.unescape(text[text.index("<main"):text.index("</main>")])
        return re.sub(r'name="csrfmiddlewaretoken" value="\w+"', "", text).replace(", à l'aveugle", "")

    assert main(blind) == main(visible)
    assert "à l'aveugle" in html.unescape(blind)
    assert APPLICANT_NAME not in visible


def test_a_draft_call_is_not_public(client):
    draft = make_call("draft")
    response = client.get(reverse("calls:call-detail", args=[draft.pk]))
    assert response.status_code == 403


def test_the_innovator_follows_the_login_link_to_the_proposal_form(client, scenario):
    url = reverse("calls:proposal-create", args=[scenario.call.pk])
    assert client.get(url).status_code == 302  # to the login page, which comes back here
    client.force_login(scenario.innovator)
    assert client.get(url).status_code == 200


def test_public_call_list_query_count_does_not_grow(client, django_assert_max_num_queries):
    for i in range(3):
        make_call("open", title=f"Appel {i}")
    url = reverse("calls:call-list")
    client.get(url)
    with CaptureQueriesContext(connection) as ctx:
        client.get(url, {"territory": TerritoryFactory().pk})
    small = len(ctx.captured_queries)
    for i in range(40):
        make_call("open", title=f"Autre appel {i}", eligible_territories=[TerritoryFactory()])
    with django_assert_max_num_queries(small):
        response = client.get(url, {"territory": TerritoryFactory().pk})
    assert len(response.context["calls"]) == 3  # the 40 others are limited to other territories
