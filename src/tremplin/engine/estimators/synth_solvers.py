"""Synthetic control, the inner problem: donor weights on the simplex for a given V.

`solve_simplex_qp` minimises ``0.5 w'Pw - q'w`` over the simplex by a primal active-set method (exact up
to rounding, finite); `simplex_ls` is the same algorithm in factor form for the nested V search, which
calls it thousands of times on systems of a few unknowns.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg.lapack import dgesv as _dgesv

__all__ = ["simplex_ls", "solve_simplex_qp"]


def _kkt_solve(P: np.ndarray, q: np.ndarray, F: np.ndarray) -> np.ndarray:
    """Solve [P_FF 1; 1' 0][z; mu] = [q_F; 1] (least squares when singular)."""
    k = F.size
    K = np.ones((k + 1, k + 1))
    K[:k, :k] = P.take(F, 0).take(F, 1)
    K[k, k] = 0.0
    rhs = np.ones(k + 1)
    rhs[:k] = q.take(F)
    _, _, sol, info = _dgesv(K, rhs)
    if info == 0 and np.isfinite(sol).all():
        return sol
    return np.linalg.lstsq(K, rhs, rcond=None)[0]


def solve_simplex_qp(
    P: np.ndarray, q: np.ndarray, w0: np.ndarray | None = None, *, tol: float = 1e-12, max_iter: int = 1000
) -> np.ndarray:
    """Minimise ``0.5 w'Pw - q'w`` subject to ``w >= 0, sum(w) = 1`` (P symmetric PSD).

    Primal active-set method (exact up to rounding; finite). Starts from the best vertex, or from the
    support of ``w0`` (warm start). Each step solves the equality-constrained problem on the free set;
    blocked steps drop a variable, and the most negative reduced gradient enters.
    """
    n = q.size
    if w0 is not None and w0.shape == (n,) and np.all(w0 >= 0) and w0.sum() > 0:
        w = w0 / w0.sum()
        free = list(np.flatnonzero(w > 0))
    else:
        j = int(np.argmin(0.5 * np.diag(P) - q))
        w = np.zeros(n)
        w[j] = 1.0
        free = [j]
    scale = max(1.0, float(np.abs(np.diag(P)).max()), float(np.abs(q).max()))
    for _ in range(max_iter):
        F = np.asarray(free)
        sol = _kkt_solve(P, q, F)
        z = sol[:-1]
        if z.min() > 0:
            w = np.zeros(n)
            w[F] = z
            reduced = P @ w - q + sol[-1]
            reduced[F] = np.inf
            j = int(np.argmin(reduced))
            if reduced[j] >= -tol * scale:
                return w
            free.append(j)
            continue
        # blocked step from w_F toward z; drop the blocking variable(s)
        wf = w[F]
        blocking = z <= 0
        ratios = np.full(F.size, np.inf)
        ratios[blocking] = wf[blocking] / (wf[blocking] - z[blocking])
        i = int(np.argmin(ratios))
        t = ratios[i]
        new = wf + t * (z - wf)
        new[i] = 0.0
        new[new <= 1e-15] = 0.0
        w = np.zeros(n)
        w[F] = new
        w /= w.sum()
        free = [int(f) for f, val in zip(F, new, strict=True) if val > 0]
        if not free:  # pragma: no cover - numerical safeguard
            free = [int(F[np.argmax(z)])]
            w = np.zeros(n)
            w[free[0]] = 1.0
    return w  # pragma: no cover - max_iter reached


def _kkt_frame(kf: int) -> np.ndarray:
    """The constant part of the KKT matrix on a support of size kf, ``[0 1; 1' 0]`` (read-only: copy it)."""
    frame = _KKT_FRAMES.get(kf)
    if frame is None:
        frame = np.ones((kf + 1, kf + 1))
        frame[kf, kf] = 0.0
        frame.flags.writeable = False
        _KKT_FRAMES[kf] = frame  # only once complete (threads may share the cache)
    return frame


_KKT_FRAMES: dict[int, np.ndarray] = {}


def simplex_ls(
    Bt: np.ndarray,
    b: np.ndarray,
    free: np.ndarray | None,
    wf: np.ndarray | None,
    scale: float,
    tol: float = 1e-12,
    max_iter: int = 500,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``min ||Bt' w - b||^2`` on the simplex, active set in factor form (never forms the J x J matrix).

    Same algorithm as `solve_simplex_qp`; ``Bt`` is (J, k): one row of predictors per donor, usually
    k << J. Warm start from the support ``free`` (donor indices, increasing) with positive weights ``wf``;
    ``None``: the best vertex. Returns (support F, weights on F, KKT matrix on F) so the caller can reuse
    the KKT matrix for the implicit gradient. ``scale`` sets the optimality tolerance (about max |Bt|^2).

    The nested V search calls this thousands of times on systems of a few unknowns, where NumPy's
    per-call overhead is the cost, not flops: hence the support-sized arrays, the ``.dot`` method (a
    cheaper call than ``@``, same BLAS routines) and plain Python for the tests and the ratio step on a
    few numbers. The arithmetic itself (which products, in which order) is deliberately the one the
    placebo results were checked with, see `nested_v`.
    """
    if free is None:
        j = int(np.argmin(np.einsum("ij,ij->i", Bt, Bt) * 0.5 - Bt @ b))
        free = np.array([j])
        wl = [1.0]
    else:
        wl = wf.tolist()
    thresh = -tol * scale
    for _ in range(max_iter):
        kf = free.size
        BF = Bt.take(free, 0)
        K = _kkt_frame(kf).copy()
        K[:kf, :kf] = BF.dot(BF.T)
        rhs = np.empty(kf + 1)
        BF.dot(b, out=rhs[:kf])
        rhs[kf] = 1.0
        _, _, sol, info = _dgesv(K, rhs)
        if info != 0:
            sol = np.linalg.lstsq(K, rhs, rcond=None)[0]
        z = sol[:kf]
        zl = sol.tolist()
        mu = zl.pop()
        if min(zl) > 0 and not math.isnan(sum(zl)):  # z.min() > 0, False with a NaN as in NumPy
            reduced = Bt.dot(z.dot(BF) - b)
            reduced += mu
            j = int(reduced.argmin())
            if j in free.tolist():  # rounding on the support: look among the other donors only
                reduced[free] = np.inf
                j = int(reduced.argmin())
            if reduced[j] >= thresh:
                return free, z, K
            grown = np.empty(kf + 1, dtype=free.dtype)
            grown[:kf] = free
            grown[kf] = j
            free, wl = grown, [*zl, 0.0]
            continue
        # blocked step from wl toward z: the first weight to reach zero leaves the support (a NaN ratio,
        # 0/0 for a donor that entered at zero, wins as it would in NumPy's argmin)
        t, i = math.inf, 0
        for a, (w, x) in enumerate(zip(wl, zl, strict=True)):
            if x <= 0:
                r = w / (w - x) if w != x else math.nan
                if r != r:
                    t, i = r, a
                    break
                if r < t:
                    t, i = r, a
        new = [w + t * (x - w) for w, x in zip(wl, zl, strict=True)]
        new[i] = 0.0
        keep = [a for a, x in enumerate(new) if x > 1e-15]
        if not keep:  # pragma: no cover - numerical safeguard
            keep = [int(np.argmax(z))]
            new[keep[0]] = 1.0
        kept = np.array([new[a] for a in keep])
        kept /= kept.sum()
        free, wl = free.take(keep), kept.tolist()
    return free, np.array(wl), K  # pragma: no cover - max_iter reached
