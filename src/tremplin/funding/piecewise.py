"""Sums of piecewise-linear functions of the effect, evaluated exactly and fast.

Every payment model is, recipient by recipient, a sum of pieces of the effect `E` (a relative change):

- linear `c·(p + q·E)`;
- hinge `c·max(0, p + q·E)` (floors; a cap is `min(x, C) = x − max(0, x − C)`);
- step `c·[p + q·E ≥ 0]` (thresholds, such as the MSSP minimum savings rate).

`Terms` collects the pieces of a model, each tagged with the organisation receiving it (its *owner*).
`Terms.compile()` turns their total into a `Piecewise`: one intercept and slope, the hinge knots `r = −p/q` sorted
once with prefix sums of their slopes `k` and of `k·r`, the step knots sorted with prefix sums of their jumps.
The value at `E` is then `a + b·E + E·K[i] − KR[i] + J[j]`, with `i`, `j` found by binary search
(`np.searchsorted`): `D` draws cost `O((M + D) log M)` for `M` pieces, instead of `O(N × D)` for evaluating every
patient at every draw, and the result is the same function, equal up to floating-point rounding.

`loss_intervals` gives, from the same pieces grouped by owner, the set of effects at which some owner receives
less than a reference amount, as a union of intervals: P(some provider loses) over the draws is then exact too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

LOWER = -1.0
"""Smallest effect: a relative change cannot remove more than everything (draws are clipped there)."""


def _arr(x, shape=None) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    return a if shape is None else np.broadcast_to(a, shape)


@dataclass
class Terms:
    """Owner-tagged pieces of a function of the effect (see the module docstring); `n_owners` recipients."""

    n_owners: int
    _linear: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)
    _relu: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)
    _step: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)

    @staticmethod
    def _pieces(owner, p, q, c):
        p = np.atleast_1d(np.asarray(p, dtype=float))
        shape = np.broadcast_shapes(p.shape, np.shape(q), np.shape(c), np.shape(owner))
        return (np.broadcast_to(np.asarray(owner, dtype=np.int64), shape).ravel(), _arr(p, shape).ravel(),
                _arr(q, shape).ravel(), _arr(c, shape).ravel())

    def linear(self, owner, p, q, c=1.0) -> Terms:
        """Add `c·(p + q·E)` to `owner` (arrays broadcast together)."""
        o, p, q, c = self._pieces(owner, p, q, c)
        self._linear.append((o, c * p, c * q))
        return self

    def relu(self, owner, p, q, c=1.0) -> Terms:
        """Add `c·max(0, p + q·E)` to `owner`."""
        self._relu.append(self._pieces(owner, p, q, c))
        return self

    def step(self, owner, p, q, c=1.0) -> Terms:
        """Add `c·[p + q·E ≥ 0]` to `owner`."""
        self._step.append(self._pieces(owner, p, q, c))
        return self

    def extend(self, other: Terms, *, scale: float = 1.0, owner_map: np.ndarray | None = None) -> Terms:
        """Add the pieces of `other`, multiplied by `scale`, their owners renumbered by `owner_map`."""
        def own(o):
            return o if owner_map is None else np.asarray(owner_map)[o]

        for o, p, q in other._linear:
            self._linear.append((own(o), scale * p, scale * q))
        for o, p, q, c in other._relu:
            self._relu.append((own(o), p, q, scale * c))
        for o, p, q, c in other._step:
            self._step.append((own(o), p, q, scale * c))
        return self

    def select(self, keep: np.ndarray) -> Terms:
        """The pieces whose owner is in the boolean mask `keep` (by owner index)."""
        out = Terms(self.n_owners)
        out._linear = [(o[keep[o]], p[keep[o]], q[keep[o]]) for o, p, q in self._linear]
        out._relu = [(o[keep[o]], p[keep[o]], q[keep[o]], c[keep[o]]) for o, p, q, c in self._relu]
        out._step = [(o[keep[o]], p[keep[o]], q[keep[o]], c[keep[o]]) for o, p, q, c in self._step]
        return out

    @property
    def size(self) -> int:
        """Number of pieces."""
        return sum(len(x[0]) for x in (*self._linear, *self._relu, *self._step))

    # -- direct evaluation (the reference the compiled form is checked against) ----------------------------------
    def evaluate(self, effects) -> np.ndarray:
        """Value of every owner's pieces at each effect, by brute force: array (n_owners, len(effects))."""
        effects = np.atleast_1d(np.asarray(effects, dtype=float))
        out = np.zeros((self.n_owners, len(effects)))
        for d, e in enumerate(effects):
            col = np.zeros(self.n_owners)
            for o, p, q in self._linear:
                col += np.bincount(o, p + q * e, minlength=self.n_owners)
            for o, p, q, c in self._relu:
                col += np.bincount(o, c * np.maximum(0.0, p + q * e), minlength=self.n_owners)
            for o, p, q, c in self._step:
                col += np.bincount(o, c * (p + q * e >= 0), minlength=self.n_owners)
            out[:, d] = col
        return out

    # -- canonical form -------------------------------------------------------------------------------------------
    def canonical(self, lower: float = LOWER) -> Canonical:
        """The pieces as intercepts/slopes per owner, hinges `k·max(0, E − r)` and steps `j·[E ≥ s]` / `j·[E > s]`,
        with everything that is constant or linear on `E ≥ lower` folded into the intercepts and slopes."""
        k = self.n_owners
        const = np.zeros(k)
        slope = np.zeros(k)
        for o, p, q in self._linear:
            const += np.bincount(o, p, minlength=k)
            slope += np.bincount(o, q, minlength=k)
        h_owner, h_knot, h_coef = [], [], []
        for o, p, q, c in self._relu:
            flat = q == 0
            const += np.bincount(o[flat], c[flat] * np.maximum(0.0, p[flat]), minlength=k)
            o, p, q, c = o[~flat], p[~flat], q[~flat], c[~flat]
            neg = q < 0  # max(0, p + qE) = (p + qE) + |q|·max(0, E − r) when q < 0
            const += np.bincount(o[neg], c[neg] * p[neg], minlength=k)
            slope += np.bincount(o[neg], c[neg] * q[neg], minlength=k)
            h_owner.append(o)
            h_knot.append(-p / q)
            h_coef.append(c * np.abs(q))
        s_owner, s_knot, s_jump, s_strict = [], [], [], []
        for o, p, q, c in self._step:
            flat = q == 0
            const += np.bincount(o[flat], c[flat] * (p[flat] >= 0), minlength=k)
            o, p, q, c = o[~flat], p[~flat], q[~flat], c[~flat]
            neg = q < 0  # [p + qE ≥ 0] = 1 − [E > r] when q < 0
            const += np.bincount(o[neg], c[neg], minlength=k)
            s_owner.append(o)
            s_knot.append(-p / q)
            s_jump.append(np.where(neg, -c, c))
            s_strict.append(neg)
        h_owner, h_knot, h_coef = (np.concatenate(x) if x else np.zeros(0) for x in (h_owner, h_knot, h_coef))
        s_owner, s_knot, s_jump, s_strict = (np.concatenate(x) if x else np.zeros(0)
                                             for x in (s_owner, s_knot, s_jump, s_strict))
        h_owner, s_owner, s_strict = h_owner.astype(np.int64), s_owner.astype(np.int64), s_strict.astype(bool)
        # fold what is always on for E >= lower
        on = h_knot <= lower
        slope += np.bincount(h_owner[on], h_coef[on], minlength=k)
        const -= np.bincount(h_owner[on], h_coef[on] * h_knot[on], minlength=k)
        keep = ~on & (h_coef != 0)
        h_owner, h_knot, h_coef = h_owner[keep], h_knot[keep], h_coef[keep]
        on = np.where(s_strict, s_knot < lower, s_knot <= lower)
        const += np.bincount(s_owner[on], s_jump[on], minlength=k)
        keep = ~on & (s_jump != 0)
        return Canonical(lower=lower, const=const, slope=slope, h_owner=h_owner, h_knot=h_knot, h_coef=h_coef,
                         s_owner=s_owner[keep], s_knot=s_knot[keep], s_jump=s_jump[keep], s_strict=s_strict[keep])

    def compile(self, lower: float = LOWER) -> Piecewise:
        """The total over owners as a `Piecewise` (sorted knots and prefix sums)."""
        return self.canonical(lower).total()


@dataclass(frozen=True)
class Canonical:
    """Pieces in canonical form, by owner (see `Terms.canonical`)."""

    lower: float
    const: np.ndarray
    slope: np.ndarray
    h_owner: np.ndarray
    h_knot: np.ndarray
    h_coef: np.ndarray
    s_owner: np.ndarray
    s_knot: np.ndarray
    s_jump: np.ndarray
    s_strict: np.ndarray

    def total(self) -> Piecewise:
        order = np.argsort(self.h_knot, kind="stable")
        knots, coef = self.h_knot[order], self.h_coef[order]
        ge, gt = ~self.s_strict, self.s_strict
        o_ge = np.argsort(self.s_knot[ge], kind="stable")
        o_gt = np.argsort(self.s_knot[gt], kind="stable")
        zero = np.zeros(1)
        return Piecewise(
            lower=self.lower, const=float(self.const.sum()), slope=float(self.slope.sum()), knots=knots,
            cum_k=np.concatenate([zero, np.cumsum(coef)]), cum_kr=np.concatenate([zero, np.cumsum(coef * knots)]),
            ge=self.s_knot[ge][o_ge], cum_ge=np.concatenate([zero, np.cumsum(self.s_jump[ge][o_ge])]),
            gt=self.s_knot[gt][o_gt], cum_gt=np.concatenate([zero, np.cumsum(self.s_jump[gt][o_gt])]),
        )


@dataclass(frozen=True)
class Piecewise:
    """f(E) = const + slope·E + Σ k·max(0, E − r) + Σ j·[E ≥ s] + Σ j'·[E > s'], for E ≥ lower."""

    lower: float
    const: float
    slope: float
    knots: np.ndarray
    cum_k: np.ndarray
    cum_kr: np.ndarray
    ge: np.ndarray
    cum_ge: np.ndarray
    gt: np.ndarray
    cum_gt: np.ndarray

    @property
    def size(self) -> int:
        return len(self.knots) + len(self.ge) + len(self.gt)

    def __call__(self, effects) -> np.ndarray:
        e = np.asarray(effects, dtype=float)
        i = np.searchsorted(self.knots, e, side="right")
        value = self.const + self.slope * e + e * self.cum_k[i] - self.cum_kr[i]
        value = value + self.cum_ge[np.searchsorted(self.ge, e, side="right")]
        return value + self.cum_gt[np.searchsorted(self.gt, e, side="left")]

    def segments(self, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The pieces of [lo, hi] on which f is linear: (start, end, value at the middle, slope)."""
        points = np.unique(np.concatenate([self.knots, self.ge, self.gt]))
        points = points[(points > lo) & (points < hi)]
        edges = np.concatenate([[lo], points, [hi]])
        start, end = edges[:-1], edges[1:]
        mid = 0.5 * (start + end)
        slope = self.slope + self.cum_k[np.searchsorted(self.knots, mid, side="right")]
        return start, end, self(mid), slope

    def largest_crossing(self, target: float, lo: float, hi: float) -> tuple[float | None, str]:
        """The largest E in [lo, hi] where f crosses `target`: a root ("root") or a jump across it ("jump"); else
        (None, "above") when f > target on all of [lo, hi], (None, "below") when f < target."""
        start, end, at_mid, slope = self.segments(lo, hi)
        mid = 0.5 * (start + end)
        with np.errstate(divide="ignore", invalid="ignore"):
            root = np.where(slope != 0, mid + (target - at_mid) / slope, np.nan)
        root = np.where((slope == 0) & (at_mid == target), end, root)
        ok = np.isfinite(root) & (root >= start) & (root <= end)
        best_root = float(root[ok].max()) if ok.any() else -np.inf
        # a discontinuity across the target: compare the two sides of every inner edge
        left = at_mid[:-1] + slope[:-1] * (end[:-1] - mid[:-1])
        right = at_mid[1:] + slope[1:] * (start[1:] - mid[1:])
        cross = (left - target) * (right - target) < 0
        best_jump = float(start[1:][cross].max()) if cross.any() else -np.inf
        if best_root == -np.inf and best_jump == -np.inf:
            return None, "above" if at_mid.min() > target else "below"
        return (best_root, "root") if best_root >= best_jump else (best_jump, "jump")


def loss_intervals(canon: Canonical, reference: np.ndarray, *, owners: np.ndarray | None = None,
                   tolerance: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """Effects at which some owner's amount is below `reference[owner] − tolerance`, as intervals (lo, hi).

    On each segment between an owner's consecutive knots its amount is linear (`A + B·E`), so the set where it
    is below the reference is one interval per segment, solved in closed form. `owners` restricts the owners
    considered (boolean mask). Interval ends are where the amount equals the threshold (measure zero for draws).
    """
    k = len(canon.const)
    considered = np.ones(k, bool) if owners is None else np.asarray(owners, bool)
    items_owner = np.concatenate([canon.h_owner, canon.s_owner])
    items_x = np.concatenate([canon.h_knot, canon.s_knot])
    d_k = np.concatenate([canon.h_coef, np.zeros(len(canon.s_knot))])
    d_kr = np.concatenate([canon.h_coef * canon.h_knot, np.zeros(len(canon.s_knot))])
    d_j = np.concatenate([np.zeros(len(canon.h_knot)), canon.s_jump])
    sel = considered[items_owner] if len(items_owner) else np.zeros(0, bool)
    items_owner, items_x, d_k, d_kr, d_j = items_owner[sel], items_x[sel], d_k[sel], d_kr[sel], d_j[sel]
    order = np.lexsort((items_x, items_owner))
    items_owner, items_x, d_k, d_kr, d_j = (a[order] for a in (items_owner, items_x, d_k, d_kr, d_j))

    def segmented_cumsum(v):
        cs = np.cumsum(v)
        first = np.r_[True, items_owner[1:] != items_owner[:-1]] if len(v) else np.zeros(0, bool)
        block = np.cumsum(first) - 1
        starts = np.flatnonzero(first)
        before = np.where(starts > 0, cs[starts - 1] if len(cs) else 0.0, 0.0)
        return cs - before[block]

    s_k, s_kr, s_j = segmented_cumsum(d_k), segmented_cumsum(d_kr), segmented_cumsum(d_j)
    last_of_owner = np.r_[items_owner[1:] != items_owner[:-1], True] if len(items_owner) else np.zeros(0, bool)
    nxt = np.where(last_of_owner, np.inf, np.r_[items_x[1:], np.inf] if len(items_x) else np.zeros(0))
    seg_lo = items_x
    seg_hi = nxt
    seg_a = canon.const[items_owner] - s_kr + s_j
    seg_b = canon.slope[items_owner] + s_k
    seg_ref = reference[items_owner]
    # the segment before each owner's first item (or the whole line for owners without items)
    all_owners = np.flatnonzero(considered)
    first_x = np.full(k, np.inf)
    if len(items_owner):
        np.minimum.at(first_x, items_owner, items_x)
    seg_lo = np.concatenate([np.full(len(all_owners), canon.lower), seg_lo])
    seg_hi = np.concatenate([first_x[all_owners], seg_hi])
    seg_a = np.concatenate([canon.const[all_owners], seg_a])
    seg_b = np.concatenate([canon.slope[all_owners], seg_b])
    seg_ref = np.concatenate([reference[all_owners], seg_ref])
    threshold = seg_ref - tolerance - seg_a  # below when B·E < threshold
    with np.errstate(divide="ignore", invalid="ignore"):
        t = threshold / seg_b
    lo = np.where(seg_b > 0, seg_lo, np.where(seg_b < 0, np.maximum(seg_lo, t), seg_lo))
    hi = np.where(seg_b > 0, np.minimum(seg_hi, t), np.where(seg_b < 0, seg_hi, seg_hi))
    flat_below = (seg_b == 0) & (threshold > 0)
    valid = np.where(seg_b == 0, flat_below, lo < hi) & (seg_hi > seg_lo)
    return lo[valid], hi[valid]


def inside_any(effects: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """For each effect, whether it lies in at least one interval [lo, hi]."""
    lo_sorted, hi_sorted = np.sort(lo), np.sort(hi)
    count = np.searchsorted(lo_sorted, effects, side="right") - np.searchsorted(hi_sorted, effects, side="left")
    return count > 0
