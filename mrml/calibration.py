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

The NUS bands (ensemble or learned SD times a scale) keep their scales in tables by sampling fraction
(:func:`by_fraction_bin`, :func:`at_fraction`) and widen them by a factor per fraction and SNR bin
(:func:`snr_factor_table`, :func:`snr_factor`). Everything here is numpy: stages read cards without torch.
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


# ---------------------------------------------------------------- NUS bands: tables by sampling fraction and SNR

#: Signal-to-noise bins of the NUS bands' SNR factor (a column's or plane's SNR as the data show it).
SNR_EDGES = (10.0, 30.0, 100.0)
#: "Strong" points: the true spectrum above this many noise SDs of the fully sampled spectrum.
STRONG_SD = 8.0


def by_fraction_bin(fractions, edges, fit) -> dict:
    """``fit(selection)`` for every sampling-fraction bin (``edges``) that holds examples, keyed by the bin
    centre ("0.1375"); examples outside the edges count in the nearest bin. Used to calibrate band scales
    per sampling fraction (:func:`mrml.train_nus.calibrate_and_validate`, the 3D counterpart)."""
    edges = np.asarray(edges, dtype=float)
    centres = (edges[:-1] + edges[1:]) / 2
    which = np.clip(np.searchsorted(edges, np.asarray(fractions), side="right") - 1, 0, len(centres) - 1)
    return {f"{c:.4f}": fit(which == b) for b, c in enumerate(centres) if np.any(which == b)}


def at_fraction(by_bin: dict, fraction):
    """A :func:`by_fraction_bin` table's value at ``fraction`` (one or an array): linear between bin centres,
    the nearest bin's outside them."""
    centres = sorted(by_bin, key=float)
    return np.interp(np.asarray(fraction, dtype=float), [float(c) for c in centres], [by_bin[c] for c in centres])


def snr_factor_table(fraction, snr, rel_all, rel_strong, *, fraction_edges, snr_edges=SNR_EDGES,
                     level: float = 0.95, min_strong: int = 50) -> dict:
    """Band widening factors per sampling-fraction bin and signal-to-noise bin, fitted on held-out simulations.

    ``fraction`` and ``snr`` hold one value per calibration example (a column or plane); ``rel_all`` and
    ``rel_strong`` its |error| / calibrated half-width at all points and at its strong points (the truth above
    several noise SD). The factor ``g >= 1`` of a cell is the smallest that covers ``level`` of the cell's points
    and, where it holds at least ``min_strong`` of them, of its strong points. Examples below the first SNR edge
    rarely hold a strong point, so noise-only ones, which fall there too, keep their band. Returns the card
    entries ``snr_edges`` and ``snr_factor_by_fraction`` (per fraction bin, one factor per SNR bin).
    """
    snr_bin = np.searchsorted(snr_edges, np.asarray(snr, dtype=float))

    def cell_factors(sel):
        g = []
        for b in range(len(snr_edges) + 1):
            idx = np.flatnonzero(sel & (snr_bin == b))
            needs = [np.quantile(np.concatenate([rel_all[i] for i in idx]), level)] if idx.size else []
            strong = np.concatenate([rel_strong[i] for i in idx]) if idx.size else np.empty(0)
            if strong.size >= min_strong:
                needs.append(np.quantile(strong, level))
            g.append(float(max([1.0, *needs])))
        return g

    return {"snr_edges": [float(e) for e in snr_edges],
            "snr_factor_by_fraction": by_fraction_bin(fraction, fraction_edges, cell_factors)}


def factor_summary(factor) -> dict | None:
    """JSON summary of per-column SNR factors (:func:`snr_factor`): smallest, largest, columns widened."""
    if factor is None or not np.size(factor):
        return None
    factor = np.asarray(factor)
    return {"min": round(float(factor.min()), 3), "max": round(float(factor.max()), 3),
            "columns_widened": int(np.sum(factor > 1.0))}


def snr_coverage_table(calibration: dict, fraction, snr, rel_all, rel_strong, *, unit: str) -> dict:
    """Held-out coverage of strong points and of all points per SNR bin (sparser and denser than 20 %), with and
    without the card's SNR factor; inputs as for :func:`snr_factor_table`, ``unit`` names an example
    ("columns", "planes")."""
    fraction, snr = np.asarray(fraction, dtype=float), np.asarray(snr, dtype=float)
    edges = calibration["snr_edges"]
    g = snr_factor(calibration, fraction, snr)
    sbin = np.searchsorted(edges, snr)
    labels = [f"<{edges[0]:g}"] + [f"{a:g}-{b:g}" for a, b in zip(edges, edges[1:])] + [f">{edges[-1]:g}"]
    out = {}
    for b, label in enumerate(labels):
        for lo, hi, name in ((0.0, 0.2, "sampled <20%"), (0.2, 1.0, "sampled >=20%")):
            idx = np.flatnonzero((sbin == b) & (fraction >= lo) & (fraction < hi))
            if not idx.size:
                continue
            strong = np.concatenate([rel_strong[i] for i in idx])
            widened = np.concatenate([rel_strong[i] / g[i] for i in idx])
            out[f"snr {label}, {name}"] = {
                unit: int(idx.size), "strong_points": int(strong.size),
                "strong": float(np.mean(widened <= 1.0)) if strong.size else None,
                "strong_without_factor": float(np.mean(strong <= 1.0)) if strong.size else None,
                "all": float(np.mean(np.concatenate([rel_all[i] / g[i] for i in idx]) <= 1.0)),
                "all_without_factor": float(np.mean(np.concatenate([rel_all[i] for i in idx]) <= 1.0))}
    return out


def snr_factor(calibration: dict, fraction, snr):
    """Band widening for examples sampled at ``fraction`` with signal-to-noise ``snr`` (one or arrays): the
    card's ``snr_factor_by_fraction`` (:func:`snr_factor_table`), linear between fraction bins, stepwise in SNR;
    1 for cards without it."""
    table = calibration.get("snr_factor_by_fraction")
    snr = np.asarray(snr, dtype=float)
    if not table:
        return np.ones_like(snr)
    n_bins = len(next(iter(table.values())))
    per_bin = np.stack([at_fraction({k: v[b] for k, v in table.items()}, fraction) * np.ones_like(snr)
                        for b in range(n_bins)])
    which = np.searchsorted(np.asarray(calibration["snr_edges"], dtype=float), snr)
    return np.take_along_axis(per_bin, which[None], axis=0)[0]
