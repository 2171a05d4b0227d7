"""Panel aggregation of signal scores: the calls' arithmetic (mean, z-scores per member over all their scores,
spread, disagreement), checked against scipy/numpy computed independently from the raw criteria."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from scipy import stats

from tests.web.horizon.conftest import make_signal
from tremplin.web.core import panel_scoring
from tremplin.web.horizon import selectors, services

pytestmark = pytest.mark.django_db

# criteria (likelihood, impact, relevance) given by three members to four signals; member 2 skips signal 3.
GRID = {
    0: {0: (4, 4, 4), 1: (3, 3, 3), 2: (4, 4, 4), 3: (2, 2, 2)},
    1: {0: (1, 1, 2), 1: (1, 2, 1), 2: (2, 2, 2), 3: (0, 1, 0)},
    2: {0: (3, 3, 3), 1: (2, 3, 3), 2: (3, 3, 4)},
}


@pytest.fixture
def scored(personas):
    signals = [make_signal(by=personas.manager) for _ in range(4)]
    for m, row in GRID.items():
        for s, (likelihood, impact, relevance) in row.items():
            services.signal_score(signal=signals[s], scorer=personas.panel[m], likelihood=likelihood, impact=impact,
                                  relevance=relevance)
    return signals


def _reference():
    """Each member's mean of the three criteria, z-scored within the member (population sd), per signal."""
    means = {(m, s): float(np.mean(v)) for m, row in GRID.items() for s, v in row.items()}
    z = {}
    for m, row in GRID.items():
        keys = sorted(row)
        zs = stats.zscore([means[(m, s)] for s in keys])
        z.update({(m, s): float(v) for s, v in zip(keys, zs, strict=True)})
    return means, z


def test_aggregates_match_an_independent_computation(scored):
    means, z = _reference()
    aggregates = selectors.panel_aggregates()
    for s, signal in enumerate(scored):
        members = [m for m in GRID if s in GRID[m]]
        a = aggregates[signal.pk]
        values = [means[(m, s)] for m in members]
        assert a.n == len(members)
        assert a.mean == pytest.approx(np.mean(values))
        assert a.spread == pytest.approx(np.std(values))
        assert a.normalised == pytest.approx(np.mean([z[(m, s)] for m in members]))
        assert a.disagreement is bool(np.std(values) >= 1.0)


def test_the_harsh_member_does_not_sink_a_signal_once_normalised(scored):
    aggregates = selectors.panel_aggregates()
    # Signal 0: member 1 (harsh, 1.33) against 4 and 3: a strong disagreement on the raw scale…
    assert aggregates[scored[0].pk].disagreement is True
    # …but every member ranks signal 2 at or near their top: its normalised score is the highest.
    best = max(scored, key=lambda s: aggregates[s.pk].normalised)
    assert best == scored[2] or aggregates[scored[2].pk].normalised == pytest.approx(aggregates[best.pk].normalised)
    assert aggregates[scored[3].pk].normalised < 0


def test_restricting_the_signals_shown_does_not_change_the_normalisation(scored):
    everything = selectors.panel_aggregates()
    only_one = selectors.panel_aggregates(signal_ids=[scored[1].pk])
    assert set(only_one) == {scored[1].pk}
    assert only_one[scored[1].pk] == everything[scored[1].pk]


def test_it_is_the_calls_arithmetic(scored):
    ratings = [(m, scored[s].pk, float(np.mean(v))) for m, row in GRID.items() for s, v in row.items()]
    reference = panel_scoring.aggregate(ratings)
    mine = selectors.panel_aggregates()
    assert {k: (v.n, v.disagreement) for k, v in reference.items()} == {k: (v.n, v.disagreement)
                                                                      for k, v in mine.items()}
    for key, value in reference.items():
        assert mine[key].normalised == pytest.approx(value.normalised)


def test_a_score_is_the_weighted_mean_and_changes_in_place(personas):
    signal = make_signal(by=personas.manager)
    member = personas.panel[0]
    first = services.signal_score(signal=signal, scorer=member, likelihood=4, impact=1, relevance=1)
    assert first.score == pytest.approx(2.0)
    again = services.signal_score(signal=signal, scorer=member, likelihood=0, impact=0, relevance=3, comment="Non")
    assert again.pk == first.pk and again.score == pytest.approx(1.0) and signal.scores.count() == 1


def test_only_panel_members_score_watched_signals_on_the_0_to_4_scale(personas):
    signal = make_signal(by=personas.manager)
    with pytest.raises(ValidationError, match="membres du panel"):
        services.signal_score(signal=signal, scorer=personas.reviewer, likelihood=1, impact=1, relevance=1)
    with pytest.raises(ValidationError, match="0 à 4"):
        services.signal_score(signal=signal, scorer=personas.panel[0], likelihood=5, impact=1, relevance=1)
    archived = make_signal(by=personas.manager, status="archived")
    with pytest.raises(ValidationError, match="archivé"):
        services.signal_score(signal=archived, scorer=personas.panel[0], likelihood=1, impact=1, relevance=1)
    assert not signal.scores.exists()


def test_a_member_needs_an_organisation(make_user, personas):
    nobody = make_user()
    with pytest.raises(ValidationError):
        services.panel_member_add(user=nobody, by=personas.manager)
