"""The results page carries a robustness table: the effect under alternative specifications."""

from __future__ import annotations

import pytest

from tests.web.conftest import login_mfa_verified

pytestmark = pytest.mark.django_db


def test_robustness_rows_are_computed_and_the_main_specification_matches(run):
    run.refresh_from_db()
    rows = {row["key"]: row for row in run.result["robustness"]}
    assert set(rows) == {"cs_never", "cs_not_yet", "cs_anticipation", "twfe"}
    # The demo run uses Callaway-Sant'Anna with never-treated controls: same number as the headline.
    assert rows["cs_never"]["att"] == pytest.approx(run.result["headline"]["att"], rel=1e-9)
    for row in rows.values():
        assert "error" in row or (row["ci_low"] <= row["att"] <= row["ci_high"])


def test_results_page_shows_the_robustness_table(client, run, evaluator):
    login_mfa_verified(client, evaluator)
    html = client.get(f"/evaluations/{run.pk}/").content.decode()
    assert 'data-testid="robustness"' in html
    assert "témoins pas encore traités" in html
