"""Statistical disclosure control: small-cell suppression with complementary suppression.

A two-way table of person counts is published with its row totals, column totals and grand total.
Every cell (margins included) counting fewer than `threshold` persons (11 by default; zeros are
not sensitive unless `suppress_zeros=True`) is suppressed ("primary"). Row and column totals are
linear relations between cells, so a suppressed cell could be recovered by subtraction; seen as a
bipartite graph (rows and columns, the total row and column included, linked by suppressed cells),
a suppressed cell is determined exactly when its edge is a bridge (on no cycle). Complementary
cells are added, cheapest first (smallest positive counts), until every suppressed cell lies on a
cycle of suppressed cells of positive counts, so that each of them can move by at least one
person in both directions without changing any published figure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tremplin.engine.errors import EngineInputError

TOTAL = "Total"


@dataclass(frozen=True)
class SuppressedCell:
    """One suppressed cell: its row and column labels (TOTAL for margins) and why."""

    row: object
    column: object
    reason: str  # "primary" (under the threshold) or "complementary" (protects a primary cell)


@dataclass(frozen=True)
class SuppressionResult:
    """`published` is the table with margins, suppressed cells as missing values (pd.NA)."""

    published: pd.DataFrame
    suppressed: tuple[SuppressedCell, ...]
    threshold: int

    @property
    def mask(self) -> pd.DataFrame:
        """True where a cell (margins included) is suppressed."""
        return self.published.isna()

    def explain(self) -> str:
        n_primary = sum(c.reason == "primary" for c in self.suppressed)
        n_comp = len(self.suppressed) - n_primary
        return (
            f"{n_primary} cell(s) under {self.threshold} persons suppressed, and {n_comp} more suppressed so "
            "that none can be recovered from the published totals."
        )


def _bridges(n_nodes: int, edges: list[tuple[int, int]]) -> set[int]:
    """Indices of bridge edges in an undirected multigraph (iterative Tarjan)."""
    adj: list[list[tuple[int, int]]] = [[] for _ in range(n_nodes)]
    for i, (a, b) in enumerate(edges):
        adj[a].append((b, i))
        adj[b].append((a, i))
    disc = [-1] * n_nodes
    low = [0] * n_nodes
    bridges: set[int] = set()
    timer = 0
    for root in range(n_nodes):
        if disc[root] != -1:
            continue
        disc[root] = low[root] = timer
        timer += 1
        stack = [(root, -1, iter(adj[root]))]
        while stack:
            node, parent_edge, it = stack[-1]
            advanced = False
            for nxt, eid in it:
                if eid == parent_edge:
                    continue
                if disc[nxt] == -1:
                    disc[nxt] = low[nxt] = timer
                    timer += 1
                    stack.append((nxt, eid, iter(adj[nxt])))
                    advanced = True
                    break
                low[node] = min(low[node], disc[nxt])
            if not advanced:
                stack.pop()
                if stack:
                    parent = stack[-1][0]
                    low[parent] = min(low[parent], low[node])
                    if low[node] > disc[parent]:
                        bridges.add(parent_edge)
    return bridges


def suppress_small_cells(
    table: pd.DataFrame,
    *,
    threshold: int = 11,
    margins: bool = True,
    suppress_zeros: bool = False,
) -> SuppressionResult:
    """Suppress cells under `threshold` persons and protect them against recovery by subtraction.

    `table` holds non-negative integer counts (rows x columns, e.g. territory x period). With
    `margins=True` the row, column and grand totals are published too (and protected).
    """
    if threshold < 1:
        raise EngineInputError(f"threshold must be at least 1 (got {threshold}).")
    values = table.to_numpy()
    if values.size == 0:
        raise EngineInputError("Cannot apply disclosure control to an empty table.")
    if not np.issubdtype(values.dtype, np.number) or np.isnan(values.astype(float)).any():
        raise EngineInputError("Disclosure control needs a table of counts (numbers, no missing values).")
    if (values < 0).any() or not np.allclose(values, np.round(values)):
        raise EngineInputError("Disclosure control needs non-negative integer counts.")
    counts = np.round(values).astype(np.int64)
    n_rows, n_cols = counts.shape
    if margins:
        full = np.zeros((n_rows + 1, n_cols + 1), dtype=np.int64)
        full[:n_rows, :n_cols] = counts
        full[n_rows, :n_cols] = counts.sum(axis=0)
        full[:n_rows, n_cols] = counts.sum(axis=1)
        full[n_rows, n_cols] = counts.sum()
        row_labels = [*table.index, TOTAL]
        col_labels = [*table.columns, TOTAL]
    else:
        full = counts
        row_labels, col_labels = list(table.index), list(table.columns)
    R, C = full.shape
    sensitive = (full < threshold) & ((full > 0) | suppress_zeros)
    suppressed = sensitive.copy()
    reasons: dict[tuple[int, int], str] = {
        (int(i), int(j)): "primary" for i, j in zip(*np.nonzero(sensitive), strict=True)
    }

    if margins:
        unprotectable: set[tuple[int, int]] = set()
        while True:
            cells = [(int(i), int(j)) for i, j in zip(*np.nonzero(suppressed), strict=True)]
            bridge_cells = [cells[b] for b in sorted(_bridges(R + C, [(i, R + j) for i, j in cells]))]
            bridge_cells = [c for c in bridge_cells if c not in unprotectable]
            if not bridge_cells:
                break
            i, j = bridge_cells[0]
            best = _cheapest_cycle(full, suppressed, i, j)
            if best is None:  # only possible for zero cells with suppress_zeros=True in an all-zero area
                unprotectable.add((i, j))
                continue
            for cell in best:
                if not suppressed[cell]:
                    suppressed[cell] = True
                    reasons[cell] = "complementary"

    published = pd.DataFrame(full, index=row_labels, columns=col_labels).astype("Int64")
    published = published.mask(pd.DataFrame(suppressed, index=row_labels, columns=col_labels))
    cells_out = tuple(
        SuppressedCell(row=row_labels[i], column=col_labels[j], reason=reasons[(i, j)]) for i, j in sorted(reasons)
    )
    return SuppressionResult(published=published, suppressed=cells_out, threshold=threshold)


def _cheapest_cycle(full: np.ndarray, suppressed: np.ndarray, i: int, j: int) -> list[tuple[int, int]] | None:
    """Cells (i, k), (l, j), (l, k) closing a 4-cycle through (i, j), minimising the persons hidden.

    Only already-suppressed cells or cells with a positive count are used, so that the cycle can
    move by one person in both directions.
    """
    R, C = full.shape
    usable = suppressed | (full > 0)
    cost = np.where(suppressed, 0, full).astype(float)
    best, best_cost = None, np.inf
    for k in range(C):
        if k == j or not usable[i, k]:
            continue
        for line in range(R):
            if line == i or not usable[line, j] or not usable[line, k]:
                continue
            total = cost[i, k] + cost[line, j] + cost[line, k]
            # Prefer cycles adding fewer new cells, then fewer persons.
            added = (not suppressed[i, k]) + (not suppressed[line, j]) + (not suppressed[line, k])
            key = added * 1e12 + total
            if key < best_cost:
                best, best_cost = [(i, k), (line, j), (line, k)], key
    return best


def suppress_panel(
    panel: pd.DataFrame,
    *,
    count: str = "persons_at_risk",
    row: str = "unit_id",
    column: str = "period",
    threshold: int = 11,
) -> SuppressionResult:
    """Disclosure control on a long panel: pivot `count` to `row` x `column` and suppress."""
    missing = [c for c in (count, row, column) if c not in panel.columns]
    if missing:
        raise EngineInputError(f"Unknown column(s) {', '.join(missing)}; allowed: {', '.join(panel.columns)}.")
    wide = panel.pivot_table(index=row, columns=column, values=count, aggfunc="sum", fill_value=0)
    return suppress_small_cells(wide, threshold=threshold)
