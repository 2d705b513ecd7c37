"""Training examples for 3D NUS: planes of two indirect time dimensions, 2D schedules, full targets.

A 3D experiment (HNCA, HN(CO)CA) sampled non-uniformly in both indirect
dimensions holds, for every point of the processed direct dimension, the four
States components RR, RI, IR, II of the sampled (t1, t2) pairs. They combine
exactly into two complex 2D signals with one peak per resonance each
(:func:`mrml.stages.nus_ist.ist_hypercomplex`), so one example here is one
such complex plane: a sum of 2D damped complex exponentials (1-12 lines at
random offsets, widths and amplitudes in each dimension; some doublets in t1
like the 35 Hz 13Ca-13Cb coupling), recorded with a residual zero-order phase,
a first-point delay in each dimension and Gaussian noise, sampled by a seeded
2D Poisson-gap or exponentially weighted schedule. The network sees the
sampled points (zeros elsewhere) and the mask; the target is the noise-free
full plane.

Noise reaches three times the largest line per point, and a share of planes
(``empty_frac``) holds no line at all: in a 3D spectrum most direct-dimension
points carry only noise, and a peak of signal-to-noise 30 in the processed
spectrum is buried in noise point by point in the time domain (its 64 x 48 points add up
coherently only after the FT). A network trained on clean planes invents peaks there.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from simulators.nmr.schedules import exponential_random, nus_config, poisson_gap_2d
from simulators.params import Param, merge_config

NAME = "nus3d"
VERSION = "1.1"  # 1.1: noise up to 3x the largest line (3D data are noise-dominated per point), empty planes
MAX_PEAKS = 12

PARAMS = (
    Param("n_peaks", "", 1, MAX_PEAKS, "uniform", "Lines in the plane (integer)."),
    Param("offset_frac", "", -0.5, 0.5, "uniform", "Line offset as a fraction of the spectral width (each dim)."),
    Param("decay_per_point", "", 0.002, 0.06, "log-uniform", "R2 / sw: decay of a line per complex point (each dim)."),
    Param("amplitude", "", 0.05, 1.0, "log-uniform", "Line amplitude (the largest in a plane is scaled to 1)."),
    Param("coupling_frac", "", 0.004, 0.02, "uniform", "Coupling J / sw of a doublet in t1."),
    Param("phase_rad", "rad", -0.35, 0.35, "uniform", "Residual zero-order phase error of the plane."),
    Param("delay_points", "", -0.25, 0.6, "uniform", "Time of the first point in dwell times (each dim)."),
    Param("noise_frac", "", 0.001, 3.0, "log-uniform", "Noise SD per point relative to the largest line amplitude."),
    Param("sampling_frac", "", 0.08, 0.4, "uniform", "Fraction of the (t1, t2) pairs sampled."),
)

DEFAULTS: dict[str, Any] = {
    "n1": 32,
    "n2": 24,
    "doublet_frac": 0.2,
    "empty_frac": 0.1,
    "schedules": ["poisson-gap", "exponential"],
    "ranges": {},
}


class Nus3dSimulator:
    """Batch simulator of NUS training planes for two indirect dimensions.

    Notes
    -----
    :meth:`simulate` returns ``x`` (n, n1, n2, 2) float32 sampled noisy plane
    (real, imaginary; zero where not sampled), ``mask`` (n, n1, n2) uint8,
    ``y`` (n, n1, n2, 2) float32 noise-free full plane (with the recorded
    phase), and ``params/<name>``.
    """

    name = NAME
    version = VERSION
    params = PARAMS

    def __init__(self, config: Mapping[str, Any] | None = None):
        merged = nus_config(DEFAULTS, PARAMS, config)
        if min(int(merged["n1"]), int(merged["n2"])) < 4:
            raise ValueError("n1 and n2 must be at least 4")
        self.config = merged
        self.shape = (int(merged["n1"]), int(merged["n2"]))
        self._params = {p.name: p.with_range(*merged["ranges"][p.name]) if p.name in merged["ranges"] else p
                        for p in PARAMS}

    def param(self, name: str):
        """The parameter declaration in force (with overridden range)."""
        return self._params[name]

    @classmethod
    def from_overrides(cls, overrides: Mapping[str, Any]) -> "Nus3dSimulator":
        return cls(merge_config(DEFAULTS, PARAMS, overrides))

    def array_specs(self) -> dict[str, tuple[tuple[int, ...], str]]:
        n1, n2 = self.shape
        return {
            "x": ((n1, n2, 2), "float32"),
            "mask": ((n1, n2), "uint8"),
            "y": ((n1, n2, 2), "float32"),
            "params/n_peaks": ((), "int8"),
            "params/offset_frac": ((MAX_PEAKS, 2), "float32"),
            "params/decay_per_point": ((MAX_PEAKS, 2), "float32"),
            "params/amplitude": ((MAX_PEAKS,), "float32"),
            "params/coupling_frac": ((MAX_PEAKS,), "float32"),
            "params/phase_rad": ((), "float64"),
            "params/delay_points": ((2,), "float32"),
            "params/noise_std": ((), "float64"),
            "params/n_sampled": ((), "int16"),
        }

    def simulate(self, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        p = self._params
        n1, n2 = self.shape
        lo, hi = int(p["n_peaks"].low), int(p["n_peaks"].high)
        n_peaks = rng.integers(lo, hi + 1, n)
        used = np.arange(MAX_PEAKS)[None, :] < n_peaks[:, None]
        shape = (n, MAX_PEAKS)
        offset = p["offset_frac"].sample(rng, (*shape, 2))
        decay = p["decay_per_point"].sample(rng, (*shape, 2))
        amp = np.where(used, p["amplitude"].sample(rng, shape), 0.0)
        amp = amp / amp.max(axis=1, keepdims=True)
        if float(self.config["empty_frac"]) > 0:  # noise-only planes (no draw otherwise: 1.0's stream)
            amp = amp * (rng.random(n) >= float(self.config["empty_frac"]))[:, None]
        doublet = used & (rng.random(shape) < float(self.config["doublet_frac"]))
        coupling = np.where(doublet, p["coupling_frac"].sample(rng, shape), 0.0)
        phase = p["phase_rad"].sample(rng, n)
        delay = p["delay_points"].sample(rng, (n, 2))
        noise_std = p["noise_frac"].sample(rng, n)
        frac = p["sampling_frac"].sample(rng, n)

        def lines(k_dim, size):  # (n, peaks, size) 1D signals along one dimension
            k = np.arange(size)[None, None, :] + delay[:, None, k_dim, None]
            return np.exp((2j * np.pi * offset[..., k_dim, None] - decay[..., k_dim, None]) * k)

        e1 = lines(0, n1) * np.cos(np.pi * coupling[..., None] * (np.arange(n1) + delay[:, None, 0, None]))
        e1 = e1 * (amp * np.exp(1j * phase)[:, None])[..., None]
        recorded = np.einsum("bpi,bpj->bij", e1, lines(1, n2))  # separable: one matrix product per plane
        noisy = recorded + noise_std[:, None, None] * (rng.standard_normal((n, n1, n2))
                                                       + 1j * rng.standard_normal((n, n1, n2)))
        kinds = self.config["schedules"]
        n_sampled = np.clip(np.round(frac * n1 * n2).astype(int), 2, n1 * n2)
        mask = np.zeros((n, n1, n2), dtype=np.uint8)
        for i in range(n):
            if kinds[int(rng.integers(len(kinds)))] == "poisson-gap":
                pairs = poisson_gap_2d((n1, n2), int(n_sampled[i]), rng=rng)
            else:
                pairs = exponential_random((n1, n2), int(n_sampled[i]), rng=rng, decay=float(rng.uniform(0.3, 1.0)))
            mask[i, pairs[:, 0], pairs[:, 1]] = 1
        x = np.where(mask.astype(bool), noisy, 0.0)
        return {
            "x": np.stack([x.real, x.imag], axis=-1).astype(np.float32),
            "mask": mask,
            "y": np.stack([recorded.real, recorded.imag], axis=-1).astype(np.float32),
            "params/n_peaks": np.where(amp.any(axis=1), n_peaks, 0).astype(np.int8),
            "params/offset_frac": np.where(used[..., None], offset, 0.0).astype(np.float32),
            "params/decay_per_point": np.where(used[..., None], decay, 0.0).astype(np.float32),
            "params/amplitude": amp.astype(np.float32),
            "params/coupling_frac": coupling.astype(np.float32),
            "params/phase_rad": phase.astype(np.float64),
            "params/delay_points": delay.astype(np.float32),
            "params/noise_std": noise_std.astype(np.float64),
            "params/n_sampled": n_sampled.astype(np.int16),
        }
