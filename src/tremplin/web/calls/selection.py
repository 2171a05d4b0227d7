"""Budget-constrained selection: exact 0/1 knapsack by dynamic programming over the budget (pure function).

Costs are in euros. The DP runs over budget units of `resolution` euros: 1 € when the envelope has at
most `MAX_UNITS` euros (then the optimum is exact), otherwise ceil(envelope / MAX_UNITS) €. The decision
table has one bit per (item, unit): with many candidates the number of units is lowered so that it stays
under `MAX_CELLS` (e.g. 1,000 candidates → 20,000 units, i.e. 60 € steps for a 1.2 M€ envelope). Costs are
rounded *up* to whole units and the capacity *down*, so a suggestion never exceeds the envelope; it is
exactly optimal whenever every cost is a multiple of the resolution (else optimal for rounded costs).
Ties are broken deterministically (the first items in input order are preferred).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

MAX_UNITS = 100_000
MAX_CELLS = 20_000_000  # booleans in the decision table (20 MB)


@dataclass(frozen=True)
class KnapsackItem:
    key: object
    cost: Decimal | int | float  # euros, >= 0
    value: float  # >= 0 (items with a value <= 0 are never chosen)


@dataclass(frozen=True)
class KnapsackResult:
    chosen: tuple[object, ...]
    total_value: float
    total_cost: Decimal
    resolution: int  # euros per DP unit


def knapsack(items: Sequence[KnapsackItem], capacity: Decimal | int | float, *, max_units: int = MAX_UNITS,
             max_cells: int = MAX_CELLS) -> KnapsackResult:
    """Choose items maximising the total value with a total cost within `capacity` euros."""
    capacity = Decimal(str(capacity))
    if capacity < 0:
        raise ValueError("capacity must be >= 0")
    candidates = sum(1 for item in items if float(item.value) > 0)
    max_units = max(1, min(max_units, max_cells // max(1, candidates)))
    resolution = max(1, math.ceil(capacity / max_units))
    units = int(capacity // resolution)
    costs = []
    for item in items:
        cost = Decimal(str(item.cost))
        if cost < 0:
            raise ValueError(f"negative cost for {item.key!r}")
        costs.append(int(math.ceil(cost / resolution)))
    n = len(items)
    best = np.zeros(units + 1, dtype=np.float64)
    take = np.zeros((n, units + 1), dtype=bool)
    for i in range(n - 1, -1, -1):  # backwards so that reconstruction prefers earlier items on ties
        value, c = float(items[i].value), costs[i]
        if value <= 0 or c > units:
            continue
        candidate = np.full(units + 1, -np.inf)
        candidate[c:] = best[: units + 1 - c] + value
        better = candidate > best + 1e-12
        take[i] = better
        best = np.where(better, candidate, best)
    picked = []
    remaining = units
    for i in range(n):
        if take[i, remaining]:
            picked.append(items[i])
            remaining -= costs[i]
    total_cost = sum((Decimal(str(it.cost)) for it in picked), Decimal(0))
    total_value = sum(float(it.value) for it in picked)
    return KnapsackResult(tuple(it.key for it in picked), total_value, total_cost, resolution)
