"""Shared test helpers.

`require(condition, reason)` skips a test locally when a real component (PostgreSQL, Chromium,
Java/Spark) is missing, and fails it when CI=true, where every component must be present.
"""

from __future__ import annotations

import os

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require(condition: bool, reason: str) -> None:
    """Skip (locally) or fail (under CI=true) when a needed component is absent."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI=true but a required component is missing: {reason}")
    pytest.skip(reason)


# --- Browser fixtures (shared by every browser test: one Playwright and one Chromium per session) ---

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    """Real headless Chromium (Debian package) driven by Playwright."""
    import shutil
    from pathlib import Path

    require(Path(CHROMIUM).exists() or shutil.which("chromium") is not None,
            f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover
        require(False, "playwright is not installed (pip install -e '.[dev]')")
    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests make themselves
    # (fixtures, assertions) are synchronous and safe. Only set while browsers run.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.console_errors = errors
    yield page
    context.close()


@pytest.fixture
def demo_data(transactional_db, settings):
    """The demo data as `make demo` loads it (region, organisations, users, apps' demo data)."""
    from django.core.management import call_command

    settings.DEBUG = True
    call_command("demo_setup", verbosity=0)
    settings.DEBUG = False
