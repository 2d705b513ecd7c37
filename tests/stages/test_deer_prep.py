"""Preprocessing of DEER traces: zero time and phase on simulated traces with known truth."""

import numpy as np

from mrml.stages.deer_prep import correct_phase, find_zero_time, prepare, refine_zero_time
from simulators.deer import DeerSimulator, reported_time_axis

SETTINGS = {"noise_frac": [0.005, 0.05], "mod_depth": [0.1, 0.6], "t_max_us": [2.5, 5.0], "mean_nm": [2.0, 5.5],
            "rel_width": [0.03, 0.25], "t_pre_us": [0.1, 0.3], "zero_time_us": [-0.02, 0.02], "bg_decay": [0, 1]}


def _traces(n=300, seed=11):
    sim = DeerSimulator.from_overrides(SETTINGS)
    out = sim.simulate(n, np.random.default_rng(seed))
    t = reported_time_axis(out["params/t_start_us"], out["params/dt_us"], sim.n_points)
    return t, out["x"], out["params/zero_time_us"]


def test_symmetry_refinement_halves_the_zero_time_error():
    t, x, truth = _traces()
    rot, _ = correct_phase(x)
    t0_quad, _ = find_zero_time(t, rot.real)
    t0_sym = refine_zero_time(t, rot.real, t0_quad)
    err_quad = np.abs(t0_quad - truth).mean()
    err_sym = np.abs(t0_sym - truth).mean()
    assert err_sym < 0.7 * err_quad
    assert err_sym < 0.004  # us; sampling steps here are 10-20 ns


def test_prepare_uses_the_refined_zero_time_and_keeps_known_ones():
    t, x, truth = _traces(n=50)
    prep = prepare(t, x)
    assert np.abs(prep.zero_time_us - truth).mean() < 0.004
    known = prepare(t, x, zero_time_us=truth)
    assert np.allclose(known.zero_time_us, truth)


def test_refinement_leaves_traces_without_pre_zero_points_alone():
    t = np.linspace(0.0, 3.0, 200)[None, :]
    v = np.exp(-t)  # maximum at the first point: nothing to mirror
    t0 = np.array([0.0])
    assert refine_zero_time(t, v, t0)[0] == 0.0
