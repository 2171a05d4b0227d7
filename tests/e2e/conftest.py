"""Helpers for browser tests (the fixtures `browser`, `page`, `demo_data` live in tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


def screenshot(page, name: str) -> Path:
    """Keep a full-page screenshot as a test artifact (test-artifacts/screenshots/NAME.png)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
