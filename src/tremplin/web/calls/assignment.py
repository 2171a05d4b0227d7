"""Reviewer assignment: a deterministic pure function (no Django).

Each proposal needs `k` distinct reviewers. A pair (proposal, reviewer) is forbidden when the reviewer
belongs to the proposal's organisation or a partner, or declared a conflict: forbidden pairs are never
produced. Reviewers have no capacity limit, so every proposal gets min(k, number of eligible reviewers).

Algorithm: most-constrained proposals first (fewest eligible reviewers, then id); each open slot goes to
the eligible reviewer with the lowest load (ties: reviewer id). A local improvement then moves a new
assignment from a reviewer to an eligible less-loaded one while that lowers the load gap by at least 2
(each move strictly lowers the sum of squared loads, so it ends). Result: no single move can balance
the loads further; without conflicts the loads differ by at most one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class AssignmentResult:
    pairs: tuple[tuple[int, int], ...]  # new (proposal, reviewer) pairs, sorted
    loads: dict[int, int]  # final load per reviewer (existing + new)
    shortfall: dict[int, int]  # proposal -> missing reviewers (not enough eligible reviewers)


def assign_reviewers(
    proposals: Sequence[int],
    reviewers: Sequence[int],
    k: int,
    forbidden: Iterable[tuple[int, int]] = (),
    existing: Iterable[tuple[int, int]] = (),
) -> AssignmentResult:
    """Assign reviewers to proposals so that each has `k` (counting `existing`), balancing loads."""
    if k < 0:
        raise ValueError("k must be >= 0")
    reviewers = sorted(set(reviewers))
    proposals = sorted(set(proposals))
    forbidden = set(forbidden)
    existing = {(p, r) for p, r in existing}
    load: dict[int, int] = dict.fromkeys(reviewers, 0)
    assigned: dict[int, set[int]] = defaultdict(set)
    for p, r in existing:
        assigned[p].add(r)
        if r in load:
            load[r] += 1
    eligible = {p: [r for r in reviewers if (p, r) not in forbidden and r not in assigned[p]] for p in proposals}
    new: set[tuple[int, int]] = set()
    shortfall: dict[int, int] = {}
    order = sorted(proposals, key=lambda p: (len(eligible[p]), p))
    for p in order:
        need = max(0, k - len(assigned[p]))
        candidates = sorted(eligible[p], key=lambda r: (load[r], r))
        chosen = candidates[:need]
        for r in chosen:
            assigned[p].add(r)
            load[r] += 1
            new.add((p, r))
        if len(chosen) < need:
            shortfall[p] = need - len(chosen)

    improved = True
    while improved:
        improved = False
        for p, r_hi in sorted(new, key=lambda pr: (-load[pr[1]], pr)):
            for r_lo in sorted(eligible[p], key=lambda r: (load[r], r)):
                if r_lo in assigned[p] or load[r_hi] - load[r_lo] < 2:
                    continue
                new.discard((p, r_hi))
                new.add((p, r_lo))
                assigned[p].discard(r_hi)
                assigned[p].add(r_lo)
                load[r_hi] -= 1
                load[r_lo] += 1
                improved = True
                break
            if improved:
                break
    return AssignmentResult(pairs=tuple(sorted(new)), loads=load, shortfall=shortfall)
