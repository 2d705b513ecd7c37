"""nus3d simulator: seeded, sampled where the mask says, and one line is the outer product of two 1D signals."""

import numpy as np

from simulators import get_simulator


def test_seeded_and_masked():
    sim = get_simulator("nus3d", overrides={"n1": 16, "n2": 12})
    a, b = (sim.simulate(8, np.random.default_rng(4)) for _ in range(2))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    mask = a["mask"].astype(bool)
    assert np.all(a["x"][~mask] == 0)
    assert np.array_equal(mask.sum(axis=(1, 2)), a["params/n_sampled"])
    assert np.all(mask[:, 0, 0])  # every schedule starts at the first pair
    assert a["x"].shape == (8, 16, 12, 2) and a["y"].shape == (8, 16, 12, 2)


def test_single_line_is_the_analytic_2d_exponential():
    sim = get_simulator("nus3d", overrides={"n1": 10, "n2": 8, "doublet_frac": 0.0, "n_peaks": 1,
                                             "noise_frac": 1e-9})
    out = sim.simulate(1, np.random.default_rng(0))
    f1, f2 = out["params/offset_frac"][0, 0]
    d1, d2 = out["params/decay_per_point"][0, 0]
    s1, s2 = out["params/delay_points"][0]
    phase = out["params/phase_rad"][0]
    k1, k2 = np.arange(10)[:, None] + s1, np.arange(8)[None, :] + s2
    expect = np.exp(1j * phase) * np.exp((2j * np.pi * f1 - d1) * k1) * np.exp((2j * np.pi * f2 - d2) * k2)
    got = out["y"][0, ..., 0] + 1j * out["y"][0, ..., 1]
    assert np.allclose(got, expect, atol=1e-5)
