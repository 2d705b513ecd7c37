"""IST reconstruction recovers sparse spectra from non-uniformly sampled time domains."""

import numpy as np
import pytest

from mrml.stages.nus_ist import ist
from simulators.nmr.schedules import poisson_gap


def _sparse_fids(n_full, n_cols, rng):
    """Columns of 1-4 decaying complex exponentials (Lorentzian lines), noiseless."""
    t = np.arange(n_full)[:, None]
    fids = np.zeros((n_full, n_cols), complex)
    for c in range(n_cols):
        for _ in range(rng.integers(1, 5)):
            f = rng.uniform(-0.45, 0.45)
            r2 = rng.uniform(0.002, 0.02)
            fids[:, c] += rng.uniform(0.3, 1.0) * np.exp((2j * np.pi * f - r2) * t[:, 0])
    return fids


def _spectral_nrmsd(fid, truth):
    s, s0 = np.fft.fft(fid, 2 * len(fid), axis=0), np.fft.fft(truth, 2 * len(truth), axis=0)
    return np.linalg.norm(s - s0) / np.linalg.norm(s0)


def test_ist_recovers_sparse_spectra_far_better_than_zero_filling():
    rng = np.random.default_rng(0)
    n_full = 128
    truth = _sparse_fids(n_full, 16, rng)
    sched = poisson_gap(n_full, 32, rng=rng)  # 25 % sampling
    rec = ist(truth[sched], sched, n_full, n_iter=200)
    zero_filled = np.zeros_like(truth)
    zero_filled[sched] = truth[sched]
    err_ist, err_zf = _spectral_nrmsd(rec, truth), _spectral_nrmsd(zero_filled, truth)
    assert err_ist < 0.08  # 0.05 measured; zero filling 0.77
    assert err_ist < 0.15 * err_zf
    assert np.allclose(rec[sched], truth[sched])  # measured points kept


def test_fully_sampled_input_is_returned_unchanged_and_shapes_follow_input():
    rng = np.random.default_rng(1)
    truth = _sparse_fids(32, 3, rng)
    sched = np.arange(32)
    assert np.allclose(ist(truth, sched, 32, n_iter=5), truth)
    assert ist(truth[:, 0], sched, 32, n_iter=5).shape == (32,)


def test_inconsistent_schedule_raises():
    with pytest.raises(ValueError, match="sampled rows"):
        ist(np.zeros((4, 2), complex), [0, 1, 2], 8)
    with pytest.raises(ValueError, match="lie in"):
        ist(np.zeros(3, complex), [0, 1, 9], 8)


def test_virtual_echo_beats_plain_ist_when_the_phase_is_known():
    from mrml.stages.nus_ist import ist_virtual_echo

    rng = np.random.default_rng(0)
    truth = _sparse_fids(128, 16, rng) * np.exp(-1j * np.deg2rad(40.0))  # recorded with a -40 degree phase
    sched = poisson_gap(128, 32, rng=np.random.default_rng(1))
    plain = _spectral_nrmsd(ist(truth[sched], sched, 128), truth)
    echo = ist_virtual_echo(truth[sched], sched, 128, phase_deg=40.0)
    assert np.allclose(echo[sched], truth[sched])
    assert _spectral_nrmsd(echo, truth) < 0.7 * plain  # 0.016 vs 0.033 measured


def _hnca_columns(n1=16, n2=12, n3=64, seed=0):
    """Hypercomplex (n1, n2, 4, cols) time domain of a simulated HNCA, direct dimension transformed."""
    import dataclasses

    from simulators.nmr import peaks as P
    from simulators.nmr.fid import default_dimensions, synthesise

    rng = np.random.default_rng(seed)
    dims = tuple(dataclasses.replace(d, n_complex=n) for d, n in zip(default_dimensions("hnca"), (n1, n2, n3)))
    seq = P.random_sequence(12, rng)
    data = synthesise(P.peak_list("hnca", seq, P.backbone_shifts(seq, rng), rng), dims, rng)
    spec = np.fft.fft(data, axis=2).real  # (2 n1, 2 n2, n3)
    return np.stack([spec[0::2, 0::2], spec[0::2, 1::2], spec[1::2, 0::2], spec[1::2, 1::2]], axis=2)


def _spectrum(full):
    rr, ri, ir, ii = (full[:, :, k] for k in range(4))
    return np.fft.fft2((rr - ii) + 1j * (ir + ri), s=(2 * full.shape[0], 2 * full.shape[1]), axes=(0, 1))


def test_hypercomplex_ist_recovers_a_3d_spectrum_from_a_quarter_of_the_pairs():
    from mrml.stages.nus_ist import ist_hypercomplex
    from simulators.nmr.schedules import poisson_gap_2d

    full = _hnca_columns()
    n1, n2 = full.shape[:2]
    sched = poisson_gap_2d((n1, n2), n1 * n2 // 4, rng=np.random.default_rng(3))
    sampled = full[sched[:, 0], sched[:, 1]]
    rec = ist_hypercomplex(sampled, sched, (n1, n2))
    assert np.array_equal(rec[sched[:, 0], sched[:, 1]], sampled)
    zf = np.zeros_like(full)
    zf[sched[:, 0], sched[:, 1]] = sampled
    truth = _spectrum(full)
    err = np.linalg.norm(_spectrum(rec) - truth) / np.linalg.norm(truth)
    err_zf = np.linalg.norm(_spectrum(zf) - truth) / np.linalg.norm(truth)
    assert err < 0.35 * err_zf


def test_hypercomplex_ist_keeps_fully_sampled_data():
    from mrml.stages.nus_ist import ist_hypercomplex

    full = _hnca_columns(n1=6, n2=5, n3=16)
    sched = np.argwhere(np.ones((6, 5), bool))
    assert np.allclose(ist_hypercomplex(full[sched[:, 0], sched[:, 1]], sched, (6, 5), n_iter=20), full)


def _ist_reference(y, idx, n_full, n_iter, final_threshold=0.01):
    """Plain IST in double precision, one column after another: the algorithm as written down."""
    out = []
    for col in y.T:
        measured = np.zeros(n_full, complex)
        measured[idx] = col
        model = np.zeros(2 * n_full, complex)
        resid = np.fft.fft(measured, 2 * n_full)
        thr = np.abs(resid).max()
        for _ in range(n_iter):
            mag = np.abs(resid)
            model += resid * np.maximum(mag - thr, 0) / np.where(mag > 0, mag, 1)
            gap = np.zeros(n_full, complex)
            gap[idx] = col - np.fft.ifft(model)[idx]
            resid = np.fft.fft(gap, 2 * n_full)
            thr *= final_threshold ** (1 / (n_iter - 1))
        out.append(np.fft.ifft(model)[:n_full])
    return np.array(out).T


def test_single_precision_blocked_ist_matches_the_double_precision_algorithm(monkeypatch):
    import mrml.stages.nus_ist as nus_ist

    rng = np.random.default_rng(2)
    truth = _sparse_fids(64, 12, rng) + 0.01 * (rng.standard_normal((64, 12)) + 1j * rng.standard_normal((64, 12)))
    sched = poisson_gap(64, 16, rng=rng)
    ref = _ist_reference(truth[sched], sched, 64, n_iter=100)
    ref[sched] = truth[sched]
    one = ist(truth[sched], sched, 64, n_iter=100, workers=1)
    monkeypatch.setattr(nus_ist, "BLOCK_POINTS", 256)  # 2 columns a block: 6 blocks over 2 threads
    blocked = ist(truth[sched], sched, 64, n_iter=100, workers=2)
    scale = np.abs(ref).max()
    assert np.abs(one - ref).max() < 1e-5 * scale  # float32 arithmetic, ~1e-7 measured
    assert np.abs(blocked - one).max() < 1e-6 * scale
    assert np.array_equal(blocked[sched], truth[sched])


def test_hypercomplex_ist_gives_the_same_planes_in_any_blocking(monkeypatch):
    import mrml.stages.nus_ist as nus_ist
    from mrml.stages.nus_ist import ist_hypercomplex

    full = _hnca_columns(n1=8, n2=6, n3=16)
    sched = np.argwhere(np.random.default_rng(4).random((8, 6)) < 0.4)
    sampled = full[sched[:, 0], sched[:, 1]]
    one = ist_hypercomplex(sampled, sched, (8, 6), n_iter=50, workers=1)
    monkeypatch.setattr(nus_ist, "BLOCK_POINTS", 1)  # one plane a block
    many = ist_hypercomplex(sampled, sched, (8, 6), n_iter=50, workers=2)
    assert np.abs(many - one).max() < 1e-6 * np.abs(one).max()
