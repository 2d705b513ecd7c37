"""Accuracy measures for distance distributions (pure numpy).

All functions take P(r) as densities on a common grid ``r_nm`` (rows = traces).
"""

from __future__ import annotations

import numpy as np


def _dr(r_nm):
    return np.gradient(np.asarray(r_nm, dtype=float))


def normalise(p, r_nm):
    """Scale rows to unit area on ``r_nm``."""
    p = np.clip(np.asarray(p, dtype=float), 0, None)
    area = (p * _dr(r_nm)).sum(axis=-1, keepdims=True)
    return p / np.where(area > 0, area, 1.0)


def overlap(p_est, p_true, r_nm):
    """Overlap metric sum(min(P_est, P_true)) dr of unit-area distributions (1 = identical)."""
    a, b = normalise(p_est, r_nm), normalise(p_true, r_nm)
    return (np.minimum(a, b) * _dr(r_nm)).sum(axis=-1)


def rmsd(p_est, p_true, r_nm):
    """Root-mean-square deviation of unit-area distributions (nm^-1)."""
    a, b = normalise(p_est, r_nm), normalise(p_true, r_nm)
    return np.sqrt(np.mean((a - b) ** 2, axis=-1))


def mean_distance(p, r_nm):
    """Mean distance <r> of each row (nm)."""
    a = normalise(p, r_nm)
    return (a * r_nm * _dr(r_nm)).sum(axis=-1)


def band_coverage(lower, upper, p_true, *, significant: float | None = None):
    """Fraction of grid points where the truth lies inside [lower, upper].

    Parameters
    ----------
    significant : float, optional
        Count only points where the truth exceeds this fraction of its row maximum.
    """
    inside = (p_true >= lower) & (p_true <= upper)
    if significant is None:
        return float(inside.mean())
    mask = p_true > significant * p_true.max(axis=-1, keepdims=True)
    return float(inside[mask].mean())


def band_width(lower, upper, p_true=None, *, significant: float | None = None):
    """Mean width of the band (nm^-1), optionally only where the truth is significant."""
    width = upper - lower
    if significant is None or p_true is None:
        return float(width.mean())
    mask = p_true > significant * p_true.max(axis=-1, keepdims=True)
    return float(width[mask].mean())


def summary(p_est, lower, upper, p_true, r_nm) -> dict:
    """Standard figures for a set of traces (means over traces)."""
    p_true_n = normalise(p_true, r_nm)
    return {
        "n": int(len(p_true)),
        "overlap": float(np.mean(overlap(p_est, p_true, r_nm))),
        "rmsd_per_nm": float(np.mean(rmsd(p_est, p_true, r_nm))),
        "mean_distance_error_nm": float(np.mean(np.abs(mean_distance(p_est, r_nm) - mean_distance(p_true, r_nm)))),
        "coverage_all": band_coverage(lower, upper, p_true_n),
        "coverage_significant": band_coverage(lower, upper, p_true_n, significant=0.01),
        "band_width_per_nm": band_width(lower, upper),
        "band_width_significant_per_nm": band_width(lower, upper, p_true_n, significant=0.01),
    }
