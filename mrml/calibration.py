"""Calibrated uncertainty bands from ensemble spread.

Raw ensemble spread covers far less than its nominal probability. The band
used by mrml is

    half_width(r) = z * sd(r) + a * mean(r) + c * max_r(mean)

with ``(z, a, c)`` fitted on the project's own simulated validation traces (never
on test data) as the narrowest pair that covers the truth at the nominal level
where the true P(r) exceeds 1 % of its maximum. Traces are grouped by their
relative ensemble disagreement ``u = mean_r(sd) / max_r(mean)`` and each group
gets its own pair, so confident predictions get narrow bands and uncertain
ones wide bands (calibration conditional on spread). For each ``(a, c)`` on a grid the
smallest sufficient ``z`` is a quantile, so the search is exact in ``z``.
"""

from __future__ import annotations

import numpy as np

A_GRID = np.concatenate([[0.0], np.geomspace(0.02, 2.0, 15)])
C_GRID = np.concatenate([[0.0], np.geomspace(0.002, 20.0, 49)])
N_GROUPS = 8


def relative_spread(mean, sd):
    """Disagreement of the ensemble relative to the peak height, one number per trace."""
    return np.mean(sd, axis=-1) / np.maximum(np.max(mean, axis=-1), 1e-12)


def _half_width(mean, sd, z, a, c):
    return z * sd + a * mean + c * np.max(mean, axis=-1, keepdims=True)


def _fit_group(mean, sd, truth, level, significant):
    """Narrowest (z, a, c): for each (a, c) the smallest z reaching ``level`` follows from quantiles."""
    mask = truth > significant * truth.max(axis=-1, keepdims=True)
    peak = np.max(mean, axis=-1, keepdims=True)
    dev = np.abs(truth - mean)
    sd_safe = np.maximum(sd, 1e-12)
    best = None
    for a in A_GRID:
        for c in C_GRID:
            need = np.maximum(dev - a * mean - c * peak, 0.0) / sd_safe  # z that covers each point
            z = max(np.quantile(need[mask], level, method="higher"), np.quantile(need, level, method="higher"))
            z *= 1 + 1e-9  # the quantile's own point stays inside despite rounding in z * sd + ...
            if not np.isfinite(z) or z > 50:
                continue
            half = _half_width(mean, sd, z, a, c)
            width = (np.minimum(half, mean) + half)[mask].mean()
            if best is None or width < best["width"]:
                inside = dev <= half
                best = {"z": float(z), "a": float(a), "c": float(c), "width": float(width),
                        "coverage_significant": float(inside[mask].mean()), "coverage_all": float(inside.mean())}
    if best is None:
        raise RuntimeError("no band on the calibration grid reaches the requested coverage")
    return best


def fit_band(mean, sd, truth, *, level: float = 0.95, significant: float = 0.01, n_groups: int = N_GROUPS) -> dict:
    """Fit the band on validation traces (rows): one (z, c) per group of relative spread.

    Parameters
    ----------
    mean, sd : ndarray (n, nr)
        Ensemble mean and standard deviation of P(r).
    truth : ndarray (n, nr)
        True P(r) on the same grid.
    level : float
        Nominal coverage.

    Returns
    -------
    dict
        ``edges`` (group boundaries of the relative spread), ``groups`` (one
        ``{z, c, width, coverage_...}`` each) and ``level``.
    """
    u = relative_spread(mean, sd)
    edges = np.quantile(u, np.linspace(0, 1, n_groups + 1)[1:-1]) if n_groups > 1 else np.array([])
    group = np.searchsorted(edges, u)
    groups = [_fit_group(mean[group == g], sd[group == g], truth[group == g], level, significant)
              for g in range(n_groups)]
    calib = {"level": level, "edges": [float(e) for e in edges], "groups": groups}
    lo, hi = band(mean, sd, calib)
    inside = (truth >= lo) & (truth <= hi)
    mask = truth > significant * truth.max(axis=-1, keepdims=True)
    calib["coverage_significant"] = float(inside[mask].mean())
    calib["coverage_all"] = float(inside.mean())
    return calib


def band(mean, sd, calib: dict):
    """Lower and upper band (rows = traces) from ensemble mean, sd and a fitted calibration."""
    mean = np.asarray(mean)
    sd = np.asarray(sd)
    g = np.atleast_1d(np.searchsorted(np.asarray(calib["edges"]), relative_spread(mean, sd)))
    pick = lambda key: np.array([calib["groups"][i].get(key, 0.0) for i in g])[:, None]  # noqa: E731
    half = _half_width(mean, sd, pick("z"), pick("a"), pick("c"))
    return np.clip(mean - half, 0.0, None), mean + half
