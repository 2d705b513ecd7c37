"""Network NUS stage: phase estimate, member reconstructions, band plane, and the CLI on FID-Net's example."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mrml.io import read
from mrml.stages import nus_net
from simulators.nmr.schedules import poisson_gap
from tests.conftest import REALDATA

NUS = REALDATA / "nmr" / "nus"


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    """A seconds-long training run (the shipped weights are tested in tests/test_shipped_nusnet.py)."""
    from mrml.train_nus import train_nusnet

    out = tmp_path_factory.mktemp("nusnet") / "m"
    train_nusnet(out, ensemble=3, steps=20, batch_size=16, pool_size=768, refresh=128, n_val=8, progress=False,
                 seed=5, lengths=(32, 64), hparams={"n_iter": 8, "refine_every": 4, "width": 8})
    return out


def _plane(rng, n_full=128, n_cols=24, phase_deg=0.0, delay=0.0):
    t = np.arange(n_full)[:, None] + delay  # a first point delayed by ``delay`` dwells: a first-order phase
    fid = np.zeros((n_full, n_cols), complex)
    for c in range(n_cols):
        for _ in range(rng.integers(1, 4)):
            fid[:, c] += rng.uniform(0.3, 1) * np.exp((2j * np.pi * rng.uniform(-0.45, 0.45) - 0.02) * t[:, 0])
    return fid * np.exp(-1j * np.deg2rad(phase_deg))  # PS -p0 = phase_deg brings it back to absorption


@pytest.mark.parametrize("phase,delay", [(0.0, 0.0), (75.0, 0.0), (200.0, 0.0), (40.0, 0.25), (300.0, -0.2)])
def test_phase_estimate_recovers_the_indirect_phase_at_the_carrier(phase, delay):
    rng = np.random.default_rng(2)
    fid = _plane(rng, phase_deg=phase, delay=delay)
    sched = poisson_gap(128, 32, rng=rng)
    est = nus_net.estimate_phase_deg(fid[sched], sched, 128)
    assert abs((est - phase + 180) % 360 - 180) < 8


def test_members_keep_measured_points_and_undo_the_phase(small_model):
    rng = np.random.default_rng(3)
    fid = _plane(rng, n_full=64, phase_deg=40.0)
    sched = np.sort(rng.choice(64, 16, replace=False))
    m = nus_net.members(fid[sched], sched, 64, phase_deg=40.0, model=small_model)
    assert m.shape == (3, 64, fid.shape[1])
    assert np.allclose(m[:, sched], fid[sched][None])
    # a reconstruction in the input's phase: it correlates with the truth far better than its rotation
    mean = m.mean(0)
    assert abs(np.vdot(mean, fid)) > 0.5 * np.linalg.norm(mean) * np.linalg.norm(fid)


def test_spectral_sd_is_zero_for_identical_members():
    fid = _plane(np.random.default_rng(0), n_full=32, n_cols=4)
    assert np.allclose(nus_net.spectral_sd(np.stack([fid, fid, fid]), z=2.0), 0.0)


@pytest.mark.skipif(not (NUS / "hdac_ex.ft1").exists(), reason="real data not present")
def test_cli_net_on_fidnet_example_writes_plane_and_band(small_model, tmp_path):
    src = NUS / "hdac_ex.ft1"
    before = src.read_bytes()
    cmd = [sys.executable, "-m", "mrml.cli", "reconstruct", str(src), "--schedule", str(NUS / "ss_hdac.out"),
           "--points", "192", "--method", "net", "--model", str(small_model), "-o", str(tmp_path / "full.ft1"),
           "--uncertainty", "--plot", str(tmp_path / "nus.png"), "--json"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    info = json.loads(res.stdout)
    assert info["method"] == "net" and 0 <= info["phase_deg"] < 360
    assert info["uncertainty"] == str(tmp_path / "full.band.ft2")
    assert info["band_snr_factor"]["min"] >= 1.0  # a card without the SNR table: no widening
    assert (tmp_path / "nus.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    full, band, sampled = read(tmp_path / "full.ft1"), read(tmp_path / "full.band.ft2"), read(src)
    sched = np.loadtxt(NUS / "ss_hdac.out", dtype=int)
    rows = np.ravel(np.column_stack([2 * sched, 2 * sched + 1]))
    assert full.shape == (384, 408) and np.allclose(full.data[rows], sampled.data)
    assert band.axes[0].domain == "frequency" and band.shape == (384, 408)
    assert np.all(np.isfinite(band.data)) and band.data.min() >= 0 and band.data.max() > 0
    assert src.read_bytes() == before
    (tmp_path / "full.ft1").unlink()  # only the figure is left: it is not overwritten either, and nothing is run
    (tmp_path / "full.band.ft2").unlink()
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert again.returncode != 0 and "nus.png exists" in again.stderr and not (tmp_path / "full.ft1").exists()


def test_cli_uncertainty_needs_the_network(tmp_path):
    cmd = [sys.executable, "-m", "mrml.cli", "reconstruct", str(tmp_path / "x.ft1"), "--schedule", "s",
           "--method", "ist", "--uncertainty", "-o", str(tmp_path / "o.ft1")]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert res.returncode != 0 and "Traceback" not in res.stderr and "--method net" in res.stderr


def test_phase_estimate_resists_a_ridge_across_the_direct_dimension():
    from mrml.stages.nus_net import RIDGE_SHARE_WARN, phase_estimate

    rng = np.random.default_rng(3)
    n_full, n_cols = 128, 300
    t = np.arange(n_full)[:, None]
    cols = rng.integers(0, n_cols, 40)
    freqs = rng.uniform(-0.45, 0.45, 40)
    plane = 0.05 * (rng.standard_normal((n_full, n_cols)) + 1j * rng.standard_normal((n_full, n_cols)))
    for c, f in zip(cols, freqs):  # peaks: one column each, all with phase 30 deg
        plane[:, c] += np.exp(1j * np.deg2rad(30) + 2j * np.pi * f * t[:, 0] - t[:, 0] / 40)
    sched = np.arange(n_full)
    phase, share = phase_estimate(plane, sched, n_full)
    assert share < RIDGE_SHARE_WARN
    assert abs((phase + 30 + 180) % 360 - 180) <= 3  # PS p0 that undoes the peaks' phase
    ridge = 0.6 * np.exp(1j * np.deg2rad(-60) + 2j * np.pi * 0.49 * t - t / 40)  # in every column, another phase
    phase_ridge, share_ridge = phase_estimate(plane + ridge, sched, n_full)
    assert share_ridge > RIDGE_SHARE_WARN
    assert abs((phase_ridge + 30 + 180) % 360 - 180) <= 5  # one vote per row: the peaks still set it
    spec = np.fft.fft(np.vstack([(plane + ridge)[:1] * 0.5, (plane + ridge)[1:]]), n=2 * n_full, axis=0)
    top = np.abs(spec) >= np.quantile(np.abs(spec), 0.99)
    summed = -np.degrees(np.angle(spec[top].sum()))
    assert abs((summed + 30 + 180) % 360 - 180) > 20  # the magnitude-weighted sum is pulled away


def test_sampling_outside_the_trained_range_is_reported():
    from pathlib import Path

    from mrml.io import read
    from mrml.io.schedule import read_schedule
    from mrml.stages.nus import reconstruct

    data = Path(__file__).resolve().parents[2] / "data"
    spectrum, sched = read(data / "example_hsqc_nus.ft1"), read_schedule(data / "example_hsqc_nuslist")
    assert reconstruct(spectrum, sched, method="net")[1].warnings == ()  # 25 %: inside 10-40 %
    from mrml.io.nmrpipe import _resized_header, from_pipe

    rows = np.asarray(spectrum.data)[:2 * 8]  # the first 8 sampled of 128 points: 6.25 %
    sparse = from_pipe(_resized_header(dict(spectrum.header), rows), rows)
    _, info = reconstruct(sparse, sched[:8], n_points=128, method="net")
    assert len(info.warnings) == 1 and "6.2% lies outside the 10%-40%" in info.warnings[0]


def test_band_widens_column_by_column_with_the_shipped_snr_factor():
    """``mrml reconstruct --uncertainty`` scales each column's band by the card's SNR factor for that column."""
    from mrml.io import read
    from mrml.io.schedule import read_schedule
    from mrml.stages.nus import reconstruct

    data = Path(__file__).resolve().parents[2] / "data"
    spectrum, sched = read(data / "example_hsqc_nus.ft1"), read_schedule(data / "example_hsqc_nuslist")
    result, info = reconstruct(spectrum, sched, n_points=128, method="net")
    n_cols = spectrum.shape[1]
    assert info.band_factor.shape == (info.members.shape[2],) and info.band_factor.min() >= 1.0
    z = info.column_z()[:n_cols]
    plain = nus_net.uncertainty_plane(result, info.members, phase_deg=info.phase_deg, z=info.band_z)
    widened = nus_net.uncertainty_plane(result, info.members, phase_deg=info.phase_deg, z=info.column_z())
    assert np.allclose(widened.data, plain.data * (z / info.band_z)[None, :], rtol=1e-5)
    assert info.summary()["band_snr_factor"]["max"] == pytest.approx(info.band_factor.max(), abs=1e-3)


@pytest.fixture(scope="module")
def sigma_model(tmp_path_factory):
    """One member with a learned error scale, trained for seconds."""
    from mrml.train_nus import train_nusnet

    out = tmp_path_factory.mktemp("nusnet-sigma") / "m"
    train_nusnet(out, ensemble=1, steps=20, batch_size=16, pool_size=512, refresh=0, n_val=8, progress=False,
                 seed=6, lengths=(64,), hparams={"n_iter": 8, "refine_every": 4, "width": 8, "learned_sigma": True})
    return out


@pytest.mark.parametrize("which", ["ensemble", "learned"])
def test_band_plane_is_the_calibrated_sd_in_nmrpipe_order(which, small_model, sigma_model):
    """The band written as an NMRPipe plane (processed with nmrglue) holds, point for point, the calibrated SD
    of the spectrum that :func:`band_halfwidth` computes with numpy: NMRPipe's order is the reversed
    frequency axis, shifted by one point. With a learned error scale the band is that scale (one member)."""
    from mrml.io.schedule import read_schedule
    from mrml.stages.nus import reconstruct

    data = Path(__file__).resolve().parents[2] / "data"
    plane, sched = read(data / "example_hsqc_nus.ft1"), read_schedule(data / "example_hsqc_nuslist")
    model = small_model if which == "ensemble" else sigma_model
    result, info = reconstruct(plane, sched, n_points=128, method="net", model=model, phase_deg=30.0)
    n_cols = plane.shape[1]
    assert (info.sigma is None) == (which == "ensemble")
    band = np.asarray(nus_net.uncertainty_plane(result, info.members, phase_deg=30.0, z=2.0, sigmas=info.sigma).data)
    sigma = None if info.sigma is None else info.sigma[:, :, :n_cols]
    ref = nus_net.band_halfwidth(info.members[:, :, :n_cols], phase_deg=30.0, z=2.0, sigmas=sigma)
    np.testing.assert_allclose(band, np.roll(ref[::-1], 1, axis=0), rtol=1e-4, atol=1e-5 * ref.max())
    if which == "learned":
        np.testing.assert_allclose(np.fft.fftshift(2.0 * sigma[0], axes=0), ref, rtol=1e-6)
