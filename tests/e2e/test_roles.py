"""Log in as each demo role, see the role's navigation, switch language, log out (real Chromium)."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import screenshot
from tremplin.web.core.demo import DEMO_PASSWORD, DEMO_USERS
from tremplin.web.core.management.commands.demo_totp import current_code

pytestmark = pytest.mark.e2e

# What each role must (and must not) see in the main navigation, in French.
ADMIN_ONLY = "Journal d'audit"


def login(page, base_url: str, email: str, role: str) -> None:
    page.goto(f"{base_url}/compte/login/")
    page.get_by_label("E-mail").fill(email) if page.get_by_label("E-mail").count() else page.fill(
        "input[name=login]", email)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.locator("main form button[type=submit]").first.click()
    if role in {"admin", "evaluator"}:
        page.wait_for_url("**/2fa/authenticate/**")
        page.fill("input[name=code]", current_code())
        page.locator("main form button[type=submit]").first.click()
    page.wait_for_url("**/tableau-de-bord/**")


@pytest.mark.parametrize("email,role", [(u[0], u[2]) for u in DEMO_USERS], ids=[u[2] for u in DEMO_USERS])
def test_role_login_navigation_language_logout(page, live_server, demo_data, email, role):
    login(page, live_server.url, email, role)
    nav = page.get_by_test_id("main-nav")
    assert nav.is_visible()
    nav_text = nav.inner_text()
    assert "Tableau de bord" in nav_text
    assert "Organisations" in nav_text
    assert (ADMIN_ONLY in nav_text) == (role == "admin"), nav_text
    assert page.get_by_test_id(f"panel-{role}").is_visible()
    assert page.locator("html").get_attribute("lang") == "fr"
    screenshot(page, f"dashboard-{role}-fr")

    # Switch to English (the select submits its form; the button is there without JavaScript).
    page.select_option("#language-select", "en")
    page.wait_for_function("document.documentElement.lang === 'en'")
    assert "Dashboard" in page.get_by_test_id("main-nav").inner_text()
    screenshot(page, f"dashboard-{role}-en")

    page.get_by_test_id("logout").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("login-link").is_visible()
    assert page.console_errors == [], page.console_errors
