"""Calibrated uncertainty bands from ensemble spread.

Raw ensemble spread covers far less than its nominal probability. The band
used by mrml is

    half_width(r) = z * sd(r) + c * max_r(mean)

with ``(z, c)`` fitted on the project's own simulated validation traces (never
on test data) as the narrowest pair that covers the truth at the nominal level
where the true P(r) exceeds 1 % of its maximum. Traces are grouped by their
relative ensemble disagreement ``u = mean_r(sd) / max_r(mean)`` and each group
gets its own pair, so confident predictions get narrow bands and uncertain
ones wide bands (calibration conditional on spread).
"""

from __future__ import annotations

import numpy as np

Z_GRID = np.concatenate([np.linspace(0.0, 4.0, 41), np.linspace(4.5, 16.0, 24)])
C_GRID = np.concatenate([[0.0], np.geomspace(0.002, 20.0, 72)])
N_GROUPS = 5


def relative_spread(mean, sd):
    """Disagreement of the ensemble relative to the peak height, one number per trace."""
    return np.mean(sd, axis=-1) / np.maximum(np.max(mean, axis=-1), 1e-12)


def _fit_pair(mean, sd, truth, level, significant):
    mask = truth > significant * truth.max(axis=-1, keepdims=True)
    peak = np.max(mean, axis=-1, keepdims=True)
    best = None
    for c in C_GRID:
        for z in Z_GRID:
            half = z * sd + c * peak
            inside = (truth >= mean - half) & (truth <= mean + half)
            cov_sig = inside[mask].mean()
            if cov_sig < level or inside.mean() < level:
                continue
            width = (np.minimum(half, mean) + half)[mask].mean()
            if best is None or width < best["width"]:
                best = {"z": float(z), "c": float(c), "width": float(width),
                        "coverage_significant": float(cov_sig), "coverage_all": float(inside.mean())}
            break  # larger z only widens the band for this c
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
    groups = [_fit_pair(mean[group == g], sd[group == g], truth[group == g], level, significant)
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
    g = np.searchsorted(np.asarray(calib["edges"]), relative_spread(mean, sd))
    z = np.array([calib["groups"][i]["z"] for i in np.atleast_1d(g)])[:, None]
    c = np.array([calib["groups"][i]["c"] for i in np.atleast_1d(g)])[:, None]
    half = z * sd + c * np.max(mean, axis=-1, keepdims=True)
    return np.clip(mean - half, 0.0, None), mean + half
