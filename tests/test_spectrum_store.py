"""A 3D spectrum streamed plane block by plane block into zarr equals the in-memory synthesis."""

import numpy as np
import pytest

from mrml.errors import InputError
from mrml.spectrum_store import _dims, _peaks, read_spectrum, write_spectrum
from simulators.nmr.fid import synthesise

DIMS = [dict(label="13C", n_complex=8, sw_hz=4500.0, obs_mhz=150.9, car_ppm=54.0),
        dict(label="15N", n_complex=6, sw_hz=2000.0, obs_mhz=60.8, car_ppm=118.0),
        dict(label="1H", n_complex=64, sw_hz=8000.0, obs_mhz=600.1, car_ppm=4.7)]


def test_streamed_hnca_equals_in_memory_synthesis_and_noise_is_seeded_per_block(tmp_path):
    info = write_spectrum(tmp_path / "a.zarr", n_residues=40, dims=DIMS, planes_per_block=3, seed=2)
    assert info["shape"] == [16, 12, 64]
    streamed = read_spectrum(tmp_path / "a.zarr")
    full = synthesise(_peaks("hnca", 40, 2), _dims("hnca", DIMS), np.random.default_rng(0))
    assert np.allclose(streamed.data, full, rtol=0, atol=1e-5 * np.abs(full).max())
    assert [ax.label for ax in streamed.axes] == ["13C", "15N", "1H"]
    a = write_spectrum(tmp_path / "n1.zarr", n_residues=40, dims=DIMS, planes_per_block=3, seed=2, noise_sd=0.1)
    b = write_spectrum(tmp_path / "n2.zarr", n_residues=40, dims=DIMS, planes_per_block=3, seed=2, noise_sd=0.1,
                       scheduler="sync")
    assert a["shape"] == b["shape"]
    assert np.array_equal(read_spectrum(tmp_path / "n1.zarr").data, read_spectrum(tmp_path / "n2.zarr").data)
    with pytest.raises(InputError, match="exists"):
        write_spectrum(tmp_path / "a.zarr", n_residues=40, dims=DIMS)
    with pytest.raises(InputError, match="3D"):
        write_spectrum(tmp_path / "h.zarr", "hsqc")
