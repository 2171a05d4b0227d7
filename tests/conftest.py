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
