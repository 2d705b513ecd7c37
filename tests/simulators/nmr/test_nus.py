"""NUS training columns: schedules, masking, noise and determinism."""

import numpy as np

from simulators import get_simulator


def test_masked_input_matches_target_within_noise_and_schedule_counts():
    sim = get_simulator("nus", overrides={"n_points": 96})
    out = sim.simulate(64, np.random.default_rng(0))
    x = out["x"][..., 0] + 1j * out["x"][..., 1]
    y = out["y"][..., 0] + 1j * out["y"][..., 1]
    mask = out["mask"].astype(bool)
    assert np.array_equal(mask.sum(1), out["params/n_sampled"])
    assert np.all(mask[:, 0])  # the first point is always sampled
    assert np.all(x[~mask] == 0)
    resid = (x - y)[mask]
    expected = np.repeat(out["params/noise_std"], mask.sum(1))
    ratio = np.sqrt(np.mean(np.abs(resid) ** 2 / (2 * expected**2)))  # noise SD per real part, relative
    assert 0.9 < ratio < 1.1
    assert np.all(np.isfinite(y)) and np.all(np.abs(y[:, 0]) > 0)


def test_same_seed_same_batch():
    sim = get_simulator("nus")
    a, b = (sim.simulate(16, np.random.default_rng(7)) for _ in range(2))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    c = sim.simulate(16, np.random.default_rng(8))
    assert not np.array_equal(a["x"], c["x"])


def test_sampling_fraction_setting():
    sim = get_simulator("nus", overrides={"sampling_frac": 0.25, "n_points": 128})
    out = sim.simulate(20, np.random.default_rng(1))
    assert np.all(out["mask"].sum(1) == 32)
