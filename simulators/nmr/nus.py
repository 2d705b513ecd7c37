"""Training examples for NUS reconstruction: indirect-dimension FIDs, schedules and fully sampled targets.

Each example is one column of a 2D plane (one point of the processed direct
dimension) along the indirect time domain: a sum of damped complex
exponentials (1-8 Lorentzian lines at random offsets, widths and amplitudes,
some with an unresolved 35 Hz-like coupling), recorded with a residual
zero-order phase error (up to 20 degrees), a first-point delay (a first-order phase
error of -90 to 216 degrees across the spectral width: real spectra are rarely
perfectly phased) and Gaussian noise, then sampled by a seeded Poisson-gap or
exponentially weighted schedule. The network sees the sampled points (zeros
elsewhere) and the mask; the target is the noise-free full FID.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from simulators.nmr.schedules import exponential_random, nus_config, poisson_gap_masks
from simulators.params import Param, merge_config

NAME = "nus"
VERSION = "1.2"
MAX_PEAKS = 8

PARAMS = (
    Param("n_peaks", "", 1, MAX_PEAKS, "uniform", "Lines in the column (integer)."),
    Param("offset_frac", "", -0.5, 0.5, "uniform", "Line offset as a fraction of the spectral width."),
    Param("decay_per_point", "", 0.002, 0.06, "log-uniform", "R2 / sw: decay of a line per complex point."),
    Param("amplitude", "", 0.05, 1.0, "log-uniform", "Line amplitude (the largest in a column is scaled to 1)."),
    Param("coupling_frac", "", 0.004, 0.02, "uniform", "Coupling J / sw of a doublet line."),
    Param("phase_rad", "rad", -0.35, 0.35, "uniform", "Residual zero-order phase error of the column."),
    Param("delay_points", "", -0.25, 0.6, "uniform",
          "Time of the first point in dwell times (0: at t = 0; 0.5: half-dwell; a first-order phase)."),
    Param("noise_frac", "", 0.001, 0.2, "log-uniform", "Noise SD relative to the largest line amplitude."),
    Param("sampling_frac", "", 0.1, 0.4, "uniform", "Fraction of the complex points sampled."),
)

DEFAULTS: dict[str, Any] = {
    "n_points": 128,
    "doublet_frac": 0.2,
    "schedules": ["poisson-gap", "exponential"],
    "ranges": {},
}


class NusSimulator:
    """Batch simulator of NUS training columns.

    Notes
    -----
    :meth:`simulate` returns ``x`` (n, n_points, 2) float32 sampled noisy FID
    (real, imaginary; zero where not sampled), ``mask`` (n, n_points) uint8,
    ``y`` (n, n_points, 2) float32 noise-free full FID, and ``params/<name>``.
    """

    name = NAME
    version = VERSION
    params = PARAMS

    def __init__(self, config: Mapping[str, Any] | None = None):
        merged = nus_config(DEFAULTS, PARAMS, config)
        if int(merged["n_points"]) < 8:
            raise ValueError("n_points must be at least 8")
        self.config = merged
        self.n_points = int(merged["n_points"])
        self._params = {p.name: p.with_range(*merged["ranges"][p.name]) if p.name in merged["ranges"] else p
                        for p in PARAMS}

    def param(self, name: str):
        """The parameter declaration in force (with overridden range)."""
        return self._params[name]

    @classmethod
    def from_overrides(cls, overrides: Mapping[str, Any]) -> "NusSimulator":
        return cls(merge_config(DEFAULTS, PARAMS, overrides))

    def array_specs(self) -> dict[str, tuple[tuple[int, ...], str]]:
        n = self.n_points
        return {
            "x": ((n, 2), "float32"),
            "mask": ((n,), "uint8"),
            "y": ((n, 2), "float32"),
            "params/n_peaks": ((), "int8"),
            "params/offset_frac": ((MAX_PEAKS,), "float32"),
            "params/decay_per_point": ((MAX_PEAKS,), "float32"),
            "params/amplitude": ((MAX_PEAKS,), "float32"),
            "params/coupling_frac": ((MAX_PEAKS,), "float32"),
            "params/phase_rad": ((), "float64"),
            "params/delay_points": ((), "float32"),
            "params/noise_std": ((), "float64"),
            "params/n_sampled": ((), "int16"),
        }

    def simulate(self, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        p, npts = self._params, self.n_points
        lo, hi = int(p["n_peaks"].low), int(p["n_peaks"].high)
        n_peaks = rng.integers(lo, hi + 1, n)
        used = np.arange(MAX_PEAKS)[None, :] < n_peaks[:, None]
        shape = (n, MAX_PEAKS)
        offset = p["offset_frac"].sample(rng, shape)
        decay = p["decay_per_point"].sample(rng, shape)
        amp = np.where(used, p["amplitude"].sample(rng, shape), 0.0)
        amp = amp / amp.max(axis=1, keepdims=True)
        doublet = used & (rng.random(shape) < float(self.config["doublet_frac"]))
        coupling = np.where(doublet, p["coupling_frac"].sample(rng, shape), 0.0)
        phase = p["phase_rad"].sample(rng, n)
        delay = p["delay_points"].sample(rng, n)
        noise_std = p["noise_frac"].sample(rng, n)
        frac = p["sampling_frac"].sample(rng, n)

        k = np.arange(npts)[None, None, :] + delay[:, None, None]
        lines = amp[..., None] * np.exp((2j * np.pi * offset[..., None] - decay[..., None]) * k)
        lines *= np.cos(np.pi * coupling[..., None] * k)
        clean = lines.sum(axis=1)  # (n, npts), phase-free truth
        recorded = clean * np.exp(1j * phase)[:, None]
        noisy = recorded + noise_std[:, None] * (rng.standard_normal((n, npts)) + 1j * rng.standard_normal((n, npts)))
        kinds = self.config["schedules"]
        n_sampled = np.clip(np.round(frac * npts).astype(int), 2, npts)
        kind = rng.integers(len(kinds), size=n)
        mask = np.zeros((n, npts), dtype=np.uint8)
        gap = np.flatnonzero([kinds[k] == "poisson-gap" for k in kind])
        if gap.size:
            mask[gap] = poisson_gap_masks(npts, n_sampled[gap], rng=rng)
        for i in np.setdiff1d(np.arange(n), gap):
            idx = exponential_random(npts, int(n_sampled[i]), rng=rng, decay=float(rng.uniform(0.3, 1.0)))
            mask[i, idx] = 1
        x = np.where(mask.astype(bool), noisy, 0.0)
        return {
            "x": np.stack([x.real, x.imag], axis=-1).astype(np.float32),
            "mask": mask,
            "y": np.stack([recorded.real, recorded.imag], axis=-1).astype(np.float32),
            "params/n_peaks": n_peaks.astype(np.int8),
            "params/offset_frac": np.where(used, offset, 0.0).astype(np.float32),
            "params/decay_per_point": np.where(used, decay, 0.0).astype(np.float32),
            "params/amplitude": amp.astype(np.float32),
            "params/coupling_frac": coupling.astype(np.float32),
            "params/phase_rad": phase.astype(np.float64),
            "params/delay_points": delay.astype(np.float32),
            "params/noise_std": noise_std.astype(np.float64),
            "params/n_sampled": n_sampled.astype(np.int16),
        }
