"""The DEER stage with the shipped model: accuracy, calibration, refusals and warnings."""

import numpy as np
import pytest

from mrml import calibration, metrics
from mrml.deer_data import CANONICAL_R_NM, DeerExampleStream
from mrml.errors import DataError
from mrml.io import read
from mrml.models import load_model
from mrml.spectrum import Axis, Spectrum
from mrml.stages.deer import analyse
from mrml.train import predict_members
from simulators.deer import DeerSimulator, distance_distribution, reported_time_axis

#: Held-out family (seed never used in training): 1-3 Gaussians, 0.5-5 % noise relative to the modulation depth.
GAUSS_FAMILY = {"n_components": [1, 3], "shapes": ["gauss"], "noise_frac": [0.005, 0.05], "mod_depth": [0.1, 0.6],
                "t_max_us": [2.5, 5.0], "mean_nm": [2.0, 5.5], "rel_width": [0.03, 0.25], "t_pre_us": [0.1, 0.3],
                "zero_time_us": [-0.02, 0.02], "exchange_frac": 0, "bg_decay": [0, 1]}


def _spectra(out, n_points):
    t = reported_time_axis(out["params/t_start_us"], out["params/dt_us"], n_points)
    return [Spectrum(out["x"][i], (Axis("t", n_points, "time", "us", values=t[i]),), source=f"sim{i}")
            for i in range(len(t))]


def _truth_on(r_nm, out, i):
    comps = {k: out[f"params/comp_{k}"][i:i + 1] for k in ("shape", "mean_nm", "width_nm", "skew", "weight")}
    return distance_distribution(r_nm, comps)[0]


def test_example_trace_recovers_its_true_distribution(example_deer):
    truth = np.loadtxt(example_deer.with_name("example_deer_truth.csv"), delimiter=",", skiprows=1)
    res = analyse(read(example_deer))[0]
    p_true = np.interp(res.r_nm, truth[:, 0], truth[:, 1])
    assert metrics.overlap(res.p, p_true, res.r_nm) > 0.75
    assert abs(res.r_mean_nm - metrics.mean_distance(p_true, res.r_nm)) < 0.15
    assert res.mod_depth == pytest.approx(0.35, abs=0.05)
    assert not res.warnings


def test_band_is_calibrated_on_held_out_simulations():
    """A nominal 95 % band covers about 95 % of the truth on traces from a seed never used in training."""
    model, card = load_model("deernet", device="cpu")
    x, p, _ = DeerExampleStream().batch(600, np.random.default_rng(424242))
    dr = CANONICAL_R_NM[1] - CANONICAL_R_NM[0]
    members = predict_members(model, x) / dr
    mean, sd = members.mean(0), members.std(0)
    lo, hi = calibration.band(mean, sd, card["calibration"])
    cov = metrics.band_coverage(lo, hi, p / dr, significant=0.01)
    assert 0.90 <= cov <= 0.99
    # the raw +-2 SD ensemble band is far from honest: calibration is needed
    raw = metrics.band_coverage(np.clip(mean - 2 * sd, 0, None), mean + 2 * sd, p / dr, significant=0.01)
    assert raw < cov - 0.1


def test_held_out_gaussian_family_accuracy_and_coverage():
    sim = DeerSimulator.from_overrides({**GAUSS_FAMILY, "n_points": 256})
    out = sim.simulate(60, np.random.default_rng(777))
    results = analyse(_spectra(out, 256))
    r = np.linspace(1.0, 10.0, 451)
    ov, err, cover = [], [], []
    for i, res in enumerate(results):
        p_true = _truth_on(r, out, i)
        p = np.interp(r, res.r_nm, res.p, left=0, right=0)
        lo = np.interp(r, res.r_nm, res.p_lower, left=0, right=0)
        hi = np.interp(r, res.r_nm, res.p_upper, left=0, right=0)
        ov.append(metrics.overlap(p, p_true, r))
        err.append(abs(metrics.mean_distance(p, r) - metrics.mean_distance(p_true, r)))
        sig = p_true > 0.01 * p_true.max()
        cover.append(np.mean((p_true[sig] >= lo[sig]) & (p_true[sig] <= hi[sig])))
    assert np.mean(ov) > 0.85
    assert np.mean(err) < 0.15
    assert np.mean(cover) > 0.88


def test_floor_removal_keeps_the_area_and_takes_off_a_uniform_floor():
    from mrml.stages.deer import without_floor

    r = np.linspace(1.5, 8.5, 141)
    peak = np.exp(-0.5 * ((r - 3.0) / 0.2) ** 2)
    p = peak + 0.004 * peak.max()  # a diffuse floor below 0.5 % of the maximum
    out = without_floor(p[None])[0]
    assert out.sum() == pytest.approx(p.sum())
    assert np.all(out[np.abs(r - 3.0) > 1.0] == 0)
    # the floor had pulled the mean distance towards the middle of the grid; without it the mean is the peak's
    assert abs(metrics.mean_distance(out, r) - 3.0) < 0.01 < abs(metrics.mean_distance(p, r) - 3.0)


def test_held_out_mean_distances_are_not_biased_long():
    """The floor the networks leave at long distances biased mean distances by +0.03 nm; no longer."""
    sim = DeerSimulator.from_overrides({**GAUSS_FAMILY, "n_points": 256})
    out = sim.simulate(100, np.random.default_rng(778))
    r = np.linspace(1.0, 10.0, 451)
    signed = [metrics.mean_distance(np.interp(r, res.r_nm, res.p, left=0, right=0), r)
              - metrics.mean_distance(_truth_on(r, out, i), r) for i, res in enumerate(analyse(_spectra(out, 256)))]
    assert abs(np.mean(signed)) < 0.015  # 0.03 without the floor removal


def test_trace_without_modulation_is_refused():
    sim = DeerSimulator.from_overrides({"mod_depth": [0.01, 0.01], "noise_frac": [3.0, 3.0], "t_max_us": 3.0,
                                       "n_points": 256})
    sim = DeerSimulator({**sim.config, "ranges": {**sim.config["ranges"], "noise_frac": [0.0, 0.0]}})
    out = sim.simulate(1, np.random.default_rng(5))
    rng = np.random.default_rng(6)
    noisy = out["x"][0] + 0.02 * out["params/scale"][0] * (rng.standard_normal(256) + 1j * rng.standard_normal(256))
    t = reported_time_axis(out["params/t_start_us"], out["params/dt_us"], 256)[0]
    sp = Spectrum(noisy, (Axis("t", 256, "time", "us", values=t),), source="flat")
    with pytest.raises(DataError, match="no dipolar modulation"):
        analyse(sp)


def test_low_modulation_to_noise_warns():
    sim = DeerSimulator.from_overrides({"mod_depth": 0.2, "noise_frac": 0.16, "n_components": 1, "mean_nm": 3.0,
                                       "rel_width": 0.05, "t_max_us": 3.0, "exchange_frac": 0, "n_points": 256})
    out = sim.simulate(4, np.random.default_rng(8))
    results = analyse(_spectra(out, 256))
    assert any("modulation-to-noise" in w for res in results for w in res.warnings)


@pytest.mark.parametrize("values,message", [
    (np.full(5, 1.0 + 0j), "points"),
    (np.where(np.arange(200) == 50, np.nan, 1.0) + 0j, "NaN"),
])
def test_unanalysable_traces_raise(values, message):
    t = np.linspace(0, 3, values.size)
    with pytest.raises(DataError, match=message):
        analyse(Spectrum(values, (Axis("t", values.size, "time", "us", values=t),)))


def test_two_dimensional_dataset_is_refused():
    sp = Spectrum(np.ones((4, 64)), (Axis("y", 4), Axis("t", 64, "time", "us", values=np.linspace(0, 2, 64))))
    with pytest.raises(DataError, match="1D"):
        analyse(sp)


@pytest.mark.parametrize("window_us", [1.2, 2.5, 6.0])
def test_canonical_dipolar_signal_matches_the_kernel_on_the_trace_axis(window_us):
    from mrml.stages.deer import canonical_dipolar_signals
    from simulators.deer import CANONICAL_T_MAX_US, dipolar_kernel_tabulated

    r_c = np.linspace(1.5, 8.5, 141)
    p_c = np.exp(-0.5 * ((r_c[None, :] - np.array([[1.6], [3.5], [6.0]])) / 0.1) ** 2)  # down to the shortest
    tau, d_c = canonical_dipolar_signals(p_c, r_c)
    t_us = np.linspace(0.0, window_us, 317)  # any axis of the trace, not the network's
    s13 = (window_us / CANONICAL_T_MAX_US) ** (1 / 3)
    for j, p in enumerate(p_c):
        direct = dipolar_kernel_tabulated(t_us, r_c * s13) @ (p / p.sum())
        via_canonical = np.interp(t_us * CANONICAL_T_MAX_US / window_us, tau, d_c[:, j])
        assert np.max(np.abs(via_canonical - direct)) < 1e-4  # measured: 3.5e-5 at these widths
        assert via_canonical[0] == pytest.approx(1.0, abs=1e-6)


def test_a_trace_that_starts_at_its_zero_time_warns(example_deer):
    """Without points before the echo maximum the zero time cannot be fitted or checked by symmetry; real
    traces cut at zero time (the shared examples) shifted by up to 0.35 nm without a word before."""
    import dataclasses

    sp = read(example_deer)
    whole = analyse(sp)[0]
    assert not any("echo maximum" in w for w in whole.warnings)
    t = sp.axes[0].coords()
    t_us = t / 1000.0 if sp.axes[0].unit == "ns" else t
    k = int(np.searchsorted(t_us, whole.zero_time_us))  # drop every point before zero time
    ax = dataclasses.replace(sp.axes[0], size=sp.shape[0] - k, values=t[k:])
    cut = sp.replace(data=np.asarray(sp.data)[k:], axes=(ax,), step="cut at zero time")
    assert any("points before its echo maximum" in w for w in analyse(cut)[0].warnings)
    given = analyse(cut, zero_time_us=float(t_us[k]))[0]
    assert not any("echo maximum" in w for w in given.warnings)  # the user's zero time is not second-guessed
