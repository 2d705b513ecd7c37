"""Peak lists and time-domain synthesis: peaks land at their ppm after nmrglue processing of a written .fid."""

import numpy as np
import pytest

from mrml.io import read, write
from mrml.spectrum import Axis, Spectrum
from simulators.nmr import fid as F
from simulators.nmr import peaks as P


def _process_2d(path):
    """Plain nmrglue processing: zero fill, FT, discard imaginaries, both dimensions."""
    import nmrglue as ng

    dic, data = ng.pipe.read(str(path))
    for _ in range(2):
        dic, data = ng.pipe_proc.zf(dic, data, auto=True)
        dic, data = ng.pipe_proc.ft(dic, data, auto=True)
        dic, data = ng.pipe_proc.di(dic, data)
        dic, data = ng.pipe_proc.tp(dic, data)
    return dic, data


def test_simulated_hsqc_peaks_land_at_their_ppm_after_nmrglue_processing(tmp_path):
    import nmrglue as ng

    rng = np.random.default_rng(0)
    ppm = np.array([[120.0, 8.5], [110.0, 7.2], [128.5, 9.3]])
    peaks = P.PeakList("hsqc", ("15N", "1H"), ppm, np.array([1.0, 0.7, 0.5]), np.full((3, 2), [8.0, 25.0]),
                       np.zeros((3, 2, 2)), np.arange(3))
    dims = F.default_dimensions("hsqc")
    data = F.synthesise(peaks, dims, rng, noise_sd=0.01)
    axes = tuple(Axis(d.label, n, "time", "us", sw_hz=d.sw_hz, obs_mhz=d.obs_mhz, car_hz=d.car_ppm * d.obs_mhz)
                 for d, n in zip(dims, data.shape))
    write(tmp_path / "hsqc.fid", Spectrum(data, axes, header=F.nmrpipe_dic(dims), format="nmrpipe"))
    assert read(tmp_path / "hsqc.fid").shape == data.shape
    dic, spec = _process_2d(tmp_path / "hsqc.fid")
    uc_n, uc_h = ng.pipe.make_uc(dic, spec, dim=0), ng.pipe.make_uc(dic, spec, dim=1)
    step_n, step_h = abs(uc_n.ppm(0) - uc_n.ppm(1)), abs(uc_h.ppm(0) - uc_h.ppm(1))
    for (n_ppm, h_ppm) in ppm:
        i, j = uc_n(n_ppm, "ppm"), uc_h(h_ppm, "ppm")
        win = spec[i - 3:i + 4, j - 3:j + 4]
        di, dj = np.unravel_index(np.argmax(win), win.shape)
        assert abs(uc_n.ppm(i - 3 + di) - n_ppm) <= 1.01 * step_n
        assert abs(uc_h.ppm(j - 3 + dj) - h_ppm) <= 1.01 * step_h


def test_separable_synthesis_equals_the_sum_over_peaks_and_3d_planes_stream():
    rng = np.random.default_rng(1)
    seq = P.random_sequence(30, rng)
    pl = P.peak_list("hnca", seq, P.backbone_shifts(seq, rng), rng)
    dims = tuple(F.Dimension(d.label, n, d.sw_hz, d.obs_mhz, d.car_ppm)
                 for d, n in zip(F.default_dimensions("hnca"), (6, 5, 16)))
    full = F.synthesise(pl, dims, rng)
    assert full.shape == (12, 10, 16)
    sig = [F.dimension_signals(pl, d, k) for k, d in enumerate(dims)]
    direct = np.einsum("p,ap,bp,cp->abc", pl.intensity, sig[0], sig[1], sig[2])  # complex model
    assert np.allclose(full[0::2, 0::2], np.einsum("p,ap,bp,cp->abc", pl.intensity, sig[0].real, sig[1].real,
                                                   sig[2]), atol=1e-4)
    assert np.allclose(full[1::2, 1::2], np.einsum("p,ap,bp,cp->abc", pl.intensity, sig[0].imag, sig[1].imag,
                                                   sig[2]), atol=1e-4)
    assert np.abs(direct).max() > 0
    amp = pl.intensity[None, :]
    assert np.allclose(F.plane_3d(sig, amp, 3), full[3], atol=1e-4)


def test_ca_cb_coupling_splits_the_ca_line_by_35_hz():
    pl = P.PeakList("hnca", ("13C", "15N", "1H"), np.array([[54.0, 118.0, 4.7]]), np.ones(1), np.full((1, 3), 5.0),
                    np.array([[[P.J_CA_CB_HZ, 0.0], [0, 0], [0, 0]]]), np.zeros(1, int))
    dim = F.Dimension("13C", 2048, 4500.0, 150.9, 54.0)
    spec = np.fft.fftshift(np.fft.fft(F.dimension_signals(pl, dim, 0)[:, 0], 8192))
    hz = np.fft.fftshift(np.fft.fftfreq(8192, 1 / dim.sw_hz))
    top = np.sort(hz[np.argsort(spec.real)[-2:]])
    assert top[1] - top[0] == pytest.approx(35.0, abs=1.5)


def test_peak_lists_follow_the_experiment_and_scale_linewidth_with_size():
    rng = np.random.default_rng(2)
    seq = P.random_sequence(150, rng)
    sh = P.backbone_shifts(seq, rng)
    n_nh = int(np.sum(~np.isnan(sh[1:, 0])))
    hsqc = P.peak_list("hsqc", seq, sh, rng)
    assert hsqc.n_peaks == n_nh and np.all((hsqc.ppm[:, 1] > 5) & (hsqc.ppm[:, 1] < 11.5))
    assert P.peak_list("hnca", seq, sh, rng).n_peaks == 2 * n_nh
    hncoca = P.peak_list("hncoca", seq, sh, rng)
    assert hncoca.n_peaks == n_nh
    assert np.allclose(hncoca.ppm[:, 0], sh[hncoca.residue - 1, 2])  # Ca of the preceding residue
    small = P.peak_list("hsqc", seq[:40], sh[:40], rng).r2_per_s.mean(0)
    assert np.all(hsqc.r2_per_s.mean(0) > 1.5 * small)
