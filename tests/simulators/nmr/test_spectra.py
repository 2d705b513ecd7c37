"""Whole-spectrum simulators (hsqc, methyl, hnca, hncoca): determinism, noise level, peaks where listed, stores."""

import dataclasses

import numpy as np
import pytest

from mrml.store import open_store, read_chunk, write_store
from simulators import get_simulator


@pytest.mark.parametrize("kind,shape", [("hsqc", (64, 64)), ("methyl", (64, 64)), ("hnca", (16, 12, 32)),
                                        ("hncoca", (16, 12, 32))])
def test_records_are_seeded_and_shaped(kind, shape):
    sizes = [s // 2 for s in shape[:-1]] + [shape[-1]]
    sim = get_simulator(kind, overrides={"sizes": sizes, "n_residues": [40, 60]})
    a, b = (sim.simulate(2, np.random.default_rng(7)) for _ in range(2))
    assert a["fid"].shape == (2, *shape) and a["fid"].dtype == np.complex64
    for key in a:
        assert np.array_equal(a[key], b[key], equal_nan=True)
    k = int(a["n_peaks"][0])
    assert np.all(a["peaks"][0, :k, -1] > 0) and np.all(a["peaks"][0, k:] == 0)


def test_noise_level_matches_the_drawn_sd_without_other_artefacts():
    sim = get_simulator("hsqc", overrides={"sizes": [32, 128], "phase_deg": 0.0, "solvent_frac": 0.0,
                                           "offset_frac": 0.0})
    a = sim.simulate(3, np.random.default_rng(1))
    for i in range(3):
        resid = a["fid"][i] - a["clean"][i]
        sd = np.sqrt(np.mean(resid.real ** 2 + resid.imag ** 2) / 2)
        assert sd == pytest.approx(float(a["params/noise_sd"][i]), rel=0.05)


def test_strongest_peak_of_the_clean_hsqc_lies_at_a_listed_peak():
    sim = get_simulator("hsqc", overrides={"sizes": [128, 512], "n_residues": [40, 40]})
    a = sim.simulate(1, np.random.default_rng(3))
    clean = a["clean"][0].astype(np.complex128)
    # States: FT the complex direct dimension of the cosine and sine rows, combine their real parts
    # into the complex 15N time domain, FT that
    direct_cos = np.fft.fft(clean[0::2], n=2048, axis=1).real
    direct_sin = np.fft.fft(clean[1::2], n=2048, axis=1).real
    spec = np.fft.fftshift(np.fft.fft(direct_cos + 1j * direct_sin, n=512, axis=0), axes=(0, 1))
    i, j = np.unravel_index(np.argmax(spec.real), spec.shape)
    n15, h1 = sim.dims
    ppm_n = n15.car_ppm + (i - 256) / 512 * n15.sw_hz / n15.obs_mhz
    ppm_h = h1.car_ppm + (j - 1024) / 2048 * h1.sw_hz / h1.obs_mhz
    k = int(a["n_peaks"][0])
    listed = a["peaks"][0, :k]
    d = np.hypot((listed[:, 0] - ppm_n) / (n15.sw_hz / n15.obs_mhz / 128),
                 (listed[:, 1] - ppm_h) / (h1.sw_hz / h1.obs_mhz / 512))
    assert d.min() < 1.5  # within about one acquired point in each dimension


def test_hnca_store_is_written_and_read_back(tmp_path):
    overrides = {"sizes": [8, 8, 32], "n_residues": [40, 50]}
    sim = get_simulator("hnca", overrides=overrides)
    write_store(tmp_path / "h.zarr", "hnca", n=6, chunk=3, seed=2, overrides=overrides, scheduler="sync",
                progress=False)
    info = open_store(tmp_path / "h.zarr")
    assert info.complete and info.simulator == "hnca"
    chunk = read_chunk(tmp_path / "h.zarr", 1)
    again = sim.simulate(3, np.random.default_rng([2, 1]))
    assert np.array_equal(chunk["fid"], again["fid"])


def test_phase_errors_on_the_clean_data_equal_synthesis_with_phases():
    from simulators.nmr import peaks as P
    from simulators.nmr.fid import default_dimensions, synthesise
    from simulators.nmr.spectra import phase_errors

    rng = np.random.default_rng(0)
    seq = P.random_sequence(30, rng)
    for exp, sizes in (("hsqc", (16, 32)), ("hnca", (8, 6, 32))):
        dims = tuple(dataclasses.replace(d, n_complex=n) for d, n in zip(default_dimensions(exp), sizes))
        peaks = P.peak_list(exp, seq, P.backbone_shifts(seq, rng), rng)
        phases = rng.uniform(-0.5, 0.5, len(dims))
        direct = synthesise(peaks, dims, rng, phase_rad=phases)
        assert np.allclose(phase_errors(synthesise(peaks, dims, rng), phases), direct, atol=1e-4 * np.abs(direct).max())
