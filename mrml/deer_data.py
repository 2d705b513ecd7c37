"""Training examples for the DEER networks: simulator output -> (network input, target P(r)).

Simulated raw traces (complex, with phase error, pre-zero points, zero-time
error, background and noise) go through the same :func:`mrml.stages.deer_prep.prepare`
as measured data; the target is the true P(r) mapped to the network's
canonical frame with the window the preprocessing found.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from mrml.stages.deer_prep import prepare
from simulators.deer import CANONICAL_T_MAX_US, DeerSimulator, distance_distribution, reported_time_axis

#: Canonical distance grid of the network output (nm, for a window of CANONICAL_T_MAX_US).
CANONICAL_R_NM = np.linspace(1.5, 8.5, 141)
N_INPUT = 256
#: Raw record lengths drawn per training batch, so resampling artefacts are part of training.
RAW_POINTS = (128, 192, 256, 384, 512, 768)

#: Simulator settings for network training (canonical frame). Flat-topped components are
#: deliberately left out: they are the held-out shape family of the benchmarks.
TRAINING_PRESET: dict[str, Any] = {
    "t_max_us": [CANONICAL_T_MAX_US, CANONICAL_T_MAX_US],
    "mean_nm": [1.6, 7.0],
    "mod_depth": [0.08, 0.8],
    "noise_frac": [0.0, 0.10],
    "width_max_nm": [2.0, 2.0],
    "shapes": ["gauss", "skewnorm"],
}


def canonical_target(components: Mapping[str, np.ndarray], window_us, r_nm=CANONICAL_R_NM):
    """True P(r) mapped to the canonical frame of a window, as probabilities per grid point.

    Returns
    -------
    p : ndarray (n, nr) float32, rows sum to 1
    inside : ndarray (n,)
        Fraction of the true distribution's mass that falls on the grid.
    """
    s13 = np.cbrt(np.asarray(window_us, dtype=float) / CANONICAL_T_MAX_US)
    r_phys = r_nm[None, :] * s13[:, None]
    dens = distance_distribution(r_phys, components, normalise=False)
    mass = dens * (r_nm[1] - r_nm[0]) * s13[:, None]
    inside = mass.sum(axis=1)
    p = mass / np.maximum(inside, 1e-12)[:, None]
    return p.astype(np.float32), inside


def components_of(arrays: Mapping[str, np.ndarray]) -> dict:
    """Component parameters from simulator/store arrays."""
    return {
        "shape": np.asarray(arrays["params/comp_shape"]),
        "mean_nm": np.asarray(arrays["params/comp_mean_nm"]),
        "width_nm": np.asarray(arrays["params/comp_width_nm"]),
        "skew": np.asarray(arrays["params/comp_skew"]),
        "weight": np.asarray(arrays["params/comp_weight"]),
    }


def examples_from_arrays(arrays: Mapping[str, np.ndarray], *, min_inside: float = 0.95):
    """Turn simulator or store arrays into network examples.

    Returns
    -------
    x : ndarray (m, N_INPUT) float32
    p : ndarray (m, nr) float32
    keep : ndarray (n,) bool
        Which input traces were used (mass on the canonical grid >= ``min_inside``).
    """
    x_raw = np.asarray(arrays["x"])
    t = reported_time_axis(arrays["params/t_start_us"], arrays["params/dt_us"], x_raw.shape[1])
    prep = prepare(t, x_raw, n_points=N_INPUT)
    p, inside = canonical_target(components_of(arrays), prep.window_us)
    keep = inside >= min_inside
    return prep.x[keep], p[keep], keep


class DeerExampleStream:
    """Fresh training examples on demand from the DEER simulator.

    Parameters
    ----------
    overrides : mapping, optional
        Simulator settings; defaults to :data:`TRAINING_PRESET`.
    raw_points : sequence of int
        Raw record lengths to draw from, one per call.
    """

    def __init__(self, overrides: Mapping[str, Any] | None = None, *, raw_points=RAW_POINTS):
        self.overrides = dict(TRAINING_PRESET if overrides is None else overrides)
        self.raw_points = tuple(raw_points)
        self._sims: dict[int, DeerSimulator] = {}

    def simulator(self, n_points: int) -> DeerSimulator:
        if n_points not in self._sims:
            self._sims[n_points] = DeerSimulator.from_overrides({**self.overrides, "n_points": n_points})
        return self._sims[n_points]

    def batch(self, n: int, rng: np.random.Generator):
        """``n`` examples (fewer if some fall off the canonical grid): x, p, raw simulator arrays."""
        n_points = int(rng.choice(self.raw_points))
        arrays = self.simulator(n_points).simulate(n, rng)
        x, p, keep = examples_from_arrays(arrays)
        return x, p, {k: v[keep] for k, v in arrays.items()}
