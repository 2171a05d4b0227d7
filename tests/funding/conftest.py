"""Fixtures of the funding tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def region(tmp_path_factory):
    """A generated region (with the optional tables), shared by the tests that read real data."""
    from tremplin.engine.generator import generate_region

    out = tmp_path_factory.mktemp("funding") / "region"
    generate_region(out, persons=8000, territories=12, years=3, seed=21, effect=-0.3, treated_share=0.5)
    return out
