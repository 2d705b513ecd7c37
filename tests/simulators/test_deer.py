"""Physics and contract tests of the DEER simulator."""

import numpy as np
import pytest

from simulators import get_simulator
from simulators.deer import (
    D_MHZ_NM3,
    DeerSimulator,
    dipolar_kernel,
    distance_distribution,
    normal_cdf,
    reported_time_axis,
)


def _quadrature_kernel(t_us, r_nm, j_mhz=0.0, n=400001):
    z = np.linspace(0.0, 1.0, n)
    w = 2 * np.pi * D_MHZ_NM3 / r_nm**3
    return np.trapezoid(np.cos(w * t_us * (1 - 3 * z**2) - 2 * np.pi * j_mhz * t_us), z)


def test_dipolar_constant_matches_codata():
    # mu0 muB^2 ge^2 / (4 pi h) = 52.04 MHz nm^3
    assert D_MHZ_NM3 == pytest.approx(52.041, abs=1e-3)


@pytest.mark.parametrize("t_us,r_nm,j_mhz", [(0.3, 2.0, 0.0), (-1.2, 3.3, 0.0), (4.0, 1.5, 0.0),
                                              (2.5, 4.0, 0.7), (-0.8, 2.2, -1.5), (1e-9, 3.0, 0.0)])
def test_kernel_matches_orientation_integral(t_us, r_nm, j_mhz):
    k = dipolar_kernel([t_us], [r_nm], exchange_mhz=j_mhz)[0, 0]
    assert k == pytest.approx(_quadrature_kernel(t_us, r_nm, j_mhz), abs=1e-6)


def test_kernel_limits():
    t = np.linspace(-2, 6, 201)
    r = np.linspace(1.5, 8, 50)
    k = dipolar_kernel(t, r)
    assert np.allclose(k[np.argmin(np.abs(t))], 1.0, atol=1e-6)  # K(0, r) = 1
    assert np.allclose(k, dipolar_kernel(-t, r))  # even in t without exchange
    # stationary phase at z = 0: K ~ sqrt(pi / (12 w t)) cos(w t - pi/4) for w t >> 1
    w = 2 * np.pi * D_MHZ_NM3 / 2.0**3
    tl = np.array([50.0, 80.0])
    asym = np.sqrt(np.pi / (12 * w * tl)) * np.cos(w * tl - np.pi / 4)
    assert np.allclose(dipolar_kernel(tl, [2.0])[:, 0], asym, atol=2e-4)


def test_kernel_matches_deerlab():
    dl = pytest.importorskip("deerlab")
    t = np.linspace(-0.5, 5, 300)
    r = np.linspace(1.5, 8, 200)
    assert np.abs(dipolar_kernel(t, r) - dl.dipolarkernel(t, r, integralop=False)).max() < 1e-6


def test_same_seed_same_batch_and_different_seed_differs():
    sim = DeerSimulator()
    a = sim.simulate(64, np.random.default_rng(5))
    b = sim.simulate(64, np.random.default_rng(5))
    c = sim.simulate(64, np.random.default_rng(6))
    assert set(a) == set(sim.array_specs())
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
        assert a[key].shape[0] == 64
        assert str(a[key].dtype) == sim.array_specs()[key][1]
    assert not np.array_equal(a["x"], c["x"])


def test_batched_signal_equals_direct_kernel_integral():
    """The canonical-frame shortcut reproduces int P(r) K(t, r) dr on each trace's own axis."""
    sim = DeerSimulator.from_overrides({"clean": True, "noise_frac": 0.0, "bg_decay": 0.0, "mod_depth": 1.0})
    out = sim.simulate(20, np.random.default_rng(3))
    r = np.linspace(1.0, 16, 30000)  # P(r) is zero below 1 nm
    comps = {"shape": out["params/comp_shape"], "mean_nm": out["params/comp_mean_nm"],
             "width_nm": out["params/comp_width_nm"], "skew": out["params/comp_skew"],
             "weight": out["params/comp_weight"]}
    p = distance_distribution(r, comps).astype(float)
    t_rep = reported_time_axis(out["params/t_start_us"], out["params/dt_us"], sim.n_points)
    t_true = t_rep - out["params/zero_time_us"][:, None]
    dr = np.gradient(r)
    worst = 0.0
    for i in range(20):
        d = dipolar_kernel(t_true[i], r, exchange_mhz=out["params/exchange_mhz"][i]) @ (p[i] * dr)
        d /= np.sum(p[i] * dr)
        worst = max(worst, np.abs(d - out["clean"][i]).max())
    assert worst < 2e-3


def test_clean_trace_is_one_at_zero_time_and_target_has_unit_area():
    sim = DeerSimulator.from_overrides({"clean": True, "t_pre_us": 0.0, "zero_time_us": 0.0, "mean_nm": [2.0, 7.0]})
    out = sim.simulate(100, np.random.default_rng(1))
    assert np.allclose(out["params/t_start_us"], 0.0)
    assert np.allclose(out["clean"][:, 0], 1.0, atol=1e-5)  # V(0) = 1: D(0) = 1 and B(0) = 1
    area = np.trapezoid(out["y"], sim.r_nm, axis=1)
    assert np.allclose(area, 1.0, atol=1e-3)


def test_noise_level_is_the_declared_fraction_of_modulation_depth():
    sim = DeerSimulator.from_overrides({"clean": True, "noise_frac": 0.05, "phase_rad": 0.0, "scale": 1.0})
    out = sim.simulate(400, np.random.default_rng(2))
    resid = out["x"] - out["clean"]
    ratio = resid.real.std(axis=1) / out["params/mod_depth"]
    assert np.median(ratio) == pytest.approx(0.05, rel=0.05)


def test_modulation_depth_and_background():
    sim = DeerSimulator.from_overrides({"clean": True, "noise_frac": 0.0, "mod_depth": 0.3, "bg_decay": 1.0,
                                       "bg_stretched_frac": 0.0, "n_components": 1, "mean_nm": 3.0,
                                       "t_pre_us": 0.0, "zero_time_us": 0.0, "t_max_us": 4.0})
    out = sim.simulate(8, np.random.default_rng(4))
    t = reported_time_axis(out["params/t_start_us"], out["params/dt_us"], sim.n_points)[0]
    # at long times the oscillation has damped: V -> (1 - lam) exp(-k t)
    tail = out["clean"][:, -20:] / np.exp(-out["params/bg_k_per_us"][:, None] * t[-20:])
    assert np.allclose(tail.mean(axis=1), 0.7, atol=0.03)


def test_overrides_and_registry():
    sim = get_simulator("deer", overrides={"n_points": 128, "mean_nm": [3.0, 3.0]})
    out = sim.simulate(10, np.random.default_rng(0))
    assert out["x"].shape == (10, 128)
    used = out["params/comp_weight"] > 0
    assert np.allclose(out["params/comp_mean_nm"][used], 3.0)
    with pytest.raises(KeyError):
        get_simulator("deer", overrides={"no_such_key": 1})
    with pytest.raises(KeyError):
        get_simulator("nope")
    # a stored config rebuilds the same simulator
    again = get_simulator("deer", config=sim.config)
    np.testing.assert_array_equal(again.simulate(4, np.random.default_rng(1))["x"],
                                  sim.simulate(4, np.random.default_rng(1))["x"])


def test_tabulated_kernel_matches_exact_for_smooth_distributions():
    from simulators.deer import dipolar_kernel_tabulated

    t = np.linspace(-0.2, 6, 300)
    r = np.linspace(1.5, 8.5, 141)
    p = np.exp(-0.5 * ((r - 3.5) / 0.3) ** 2)
    p /= p.sum()
    np.testing.assert_allclose(dipolar_kernel_tabulated(t, r) @ p, dipolar_kernel(t, r) @ p, atol=5e-4)


def test_fast_normal_cdf_matches_scipy():
    from scipy import special

    z = np.linspace(-12, 12, 200001).astype(np.float32)
    assert np.abs(normal_cdf(z).astype(float) - special.ndtr(z.astype(float))).max() < 5e-7
    assert normal_cdf(z).dtype == np.float32


def test_simulated_values_are_never_subnormal():
    """Subnormal float32 tails slow the kernel product ~8x; densities are floored above them."""
    sim = DeerSimulator.from_overrides({"clean": True, "rel_width": [0.025, 0.03],
                                        "shapes": ["skewnorm", "flat", "gauss"]})
    out = sim.simulate(512, np.random.default_rng(5))
    for name in ("clean", "y"):
        a = np.abs(out[name][out[name] != 0])
        assert a.min() >= np.finfo(np.float32).tiny, name


def test_fast_mixture_density_equals_the_component_by_component_evaluation():
    """The matrix-product fast path (one grid for all rows) agrees with the per-row reference path."""
    sim = DeerSimulator()
    prm = sim.sample_parameters(700, np.random.default_rng(11))  # more rows than one block
    comps = {"shape": prm["comp_shape"], "mean_nm": prm["comp_mean_nm"], "width_nm": prm["comp_width_nm"],
             "skew": prm["comp_skew"], "weight": prm["comp_weight"]}
    r = np.linspace(1.0, 10.0, 300)
    fast = distance_distribution(r, comps)
    rows = distance_distribution(np.tile(r, (700, 1)), comps)
    assert np.abs(fast - rows).max() < 1e-4 * rows.max()


def test_box_muller_noise_is_standard_normal_and_independent():
    sim = DeerSimulator.from_overrides({"clean": True, "noise_frac": 0.05, "scale": 1.0})
    out = sim.simulate(2000, np.random.default_rng(8))
    phasor = np.exp(1j * out["params/phase_rad"])[:, None]
    z = (out["x"] - out["clean"] * phasor) / out["params/noise_std"][:, None]
    re, im = z.real.ravel().astype(float), z.imag.ravel().astype(float)
    for part in (re, im):
        assert abs(part.mean()) < 0.01 and abs(part.std() - 1) < 0.01
        assert abs(np.mean(part**4) - 3) < 0.05  # Gaussian kurtosis
        assert abs(np.mean(np.abs(part) > 3) - 0.0027) < 0.0005
    assert abs(np.corrcoef(re, im)[0, 1]) < 0.01
    assert abs(np.corrcoef(re[:-1], re[1:])[0, 1]) < 0.01  # neighbouring points independent
