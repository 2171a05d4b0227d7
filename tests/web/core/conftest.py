from __future__ import annotations

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """allauth keeps its login rate-limit counters in the cache: start every test from zero."""
    cache.clear()
    yield
    cache.clear()
