"""Issue 16 in a real headless Chromium, on the demo data (`manage.py demo_setup`):

- the campaign manager (the demo programme manager, of CEPSEM, which leads the coalition) compares MIS 2.0 with the
  2018 campaign: results, costs per person reached, the chart over time, in French then in English;
- a programme manager opens the radar, clicks a signal's marker and turns the signal into a call draft.

Every action goes through the browser (navigation, clicks, forms); the charts are drawn by the vendored plotly.js
under the page's CSP (a console error, e.g. a CSP violation, fails the test).
"""

from __future__ import annotations

import re

import pytest

from tests.e2e import test_roles
from tests.e2e.conftest import screenshot
from tremplin.web.calls.models import Call
from tremplin.web.horizon.models import Signal, SignalStatus

pytestmark = pytest.mark.e2e

MANAGER = "manager@demo.tremplin.org"
CURRENT = "Mouvement innovation santé 2.0"
PREVIOUS = "Mouvement innovation santé (2018)"
SIGNAL = "Prédiagnostic par IA des rétinographies en pharmacie et en maison de santé"


def _to_english(page) -> None:
    page.select_option("#language-select", "en")
    page.wait_for_function("document.documentElement.lang === 'en'")


def test_the_campaign_manager_compares_with_the_previous_campaign(page, live_server, demo_data):
    test_roles.login(page, live_server.url, MANAGER, "programme_manager")
    page.get_by_test_id("main-nav").get_by_role("link", name="Coalition et campagne").click()
    page.get_by_test_id("campaign-table").get_by_role("link", name=CURRENT).click()
    page.wait_for_selector("[data-testid=kpi-chart][data-chart-ready='1']", timeout=20_000)
    assert page.locator("[data-testid=kpi-chart] svg.main-svg").count() >= 1
    # The legend names both campaigns (lines and markers differ too: readable without colour).
    legend = " | ".join(page.locator("[data-testid=kpi-chart] .legend .legendtext").all_text_contents())
    assert CURRENT in legend and PREVIOUS in legend

    comparison = page.get_by_test_id("comparison-table")
    assert PREVIOUS in comparison.inner_text()
    # The seed's published results of 2018, as the previous campaign's column.
    reach = page.get_by_test_id("result-unique_reach").inner_text()
    assert "480\u00a0000" in reach or "480 000" in reach
    # Cost per person reached: 2018: 120,000 $ / 480,000 = 0.25 $; MIS 2.0 at day 150: 84,000 $ / 352,000 = 0.2386.
    assert page.get_by_test_id("previous-cost-per_reach").inner_text().replace("\u00a0", " ") == "0,25 $ CA"
    assert page.get_by_test_id("cost-per_reach").inner_text().replace("\u00a0", " ") == "0,24 $ CA"
    assert "moins cher" in page.get_by_test_id("cost-table").inner_text()
    progress = page.get_by_test_id("goal-progress").inner_text()
    assert "Personnes uniques atteintes" in progress and "352" in progress
    screenshot(page, "campaign-comparison-fr")

    _to_english(page)
    page.wait_for_selector("[data-testid=kpi-chart][data-chart-ready='1']", timeout=20_000)
    assert "Cost per result" in page.content()
    assert page.get_by_test_id("previous-cost-per_reach").inner_text() == "CA$0.25"
    assert page.get_by_test_id("cost-per_reach").inner_text() == "CA$0.24"
    assert "cheaper" in page.get_by_test_id("cost-table").inner_text()
    assert "Unique people reached" in page.get_by_test_id("goal-progress").inner_text()
    screenshot(page, "campaign-comparison-en")
    assert page.console_errors == [], page.console_errors


def test_a_manager_turns_a_signal_of_the_radar_into_a_call_draft(page, live_server, demo_data):
    signal = Signal.objects.get(title=SIGNAL)
    watched = Signal.objects.filter(status=SignalStatus.WATCHING).count()
    test_roles.login(page, live_server.url, MANAGER, "programme_manager")
    page.get_by_test_id("main-nav").get_by_role("link", name="Veille prospective").click()
    page.get_by_test_id("radar-link").click()
    page.wait_for_selector("[data-testid=radar-chart][data-chart-ready='1']", timeout=20_000)
    markers = page.locator("[data-testid=radar-chart] .scatterlayer .point")
    assert markers.count() == watched
    assert page.get_by_test_id("radar-count").inner_text() == f"{watched} signaux sur le radar"
    screenshot(page, "horizon-radar-fr")

    # Interactive: clicking the signal's marker opens the signal (its number is shown on the marker and the table).
    number = next(n for n, title in page_points(page) if title == SIGNAL)
    marker = page.locator("[data-testid=radar-chart] .scatterlayer .trace").locator(
        f"xpath=.//*[contains(@class,'textpoint')][normalize-space(.)='{number}']")
    box = marker.first.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] + 8)
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] + 8)
    page.wait_for_url(re.compile(rf"/veille/{signal.pk}/$"))

    page.get_by_test_id("prepare-call").click()
    assert page.locator("#id_title").input_value() == f"Appel de solutions : {SIGNAL}"
    text = page.locator("#id_text").input_value()
    assert "orthoptiste" in text and "Dépistage insuffisant de la rétinopathie diabétique" in text
    assert "Dépistage insuffisant" in page.get_by_test_id("prefilled-problems").inner_text()
    page.fill("#id_budget_envelope", "250000")
    page.fill("#id_max_amount_per_proposal", "60000")
    page.get_by_test_id("create-call").click()
    page.wait_for_url(re.compile(r"/appels/\d+/$"))
    call = Call.objects.get(title=f"Appel de solutions : {SIGNAL}")
    assert call.phase == "draft" and call.created_by.email == MANAGER
    assert set(call.problems.values_list("title", flat=True)) == set(signal.problems.values_list("title", flat=True))
    assert "Brouillon" in page.content()
    screenshot(page, "horizon-call-draft-fr")

    page.goto(f"{live_server.url}/veille/{signal.pk}/")
    assert call.title in page.get_by_test_id("linked-calls").inner_text()
    assert page.console_errors == [], page.console_errors


def page_points(page):
    """(number, title) of the radar's signals, read from the page's table of signals."""
    rows = page.locator("[data-testid=radar-signals] tbody tr")
    return [(r.locator("td").nth(0).inner_text().strip(), r.locator("td").nth(1).inner_text().strip())
            for r in rows.all()]
