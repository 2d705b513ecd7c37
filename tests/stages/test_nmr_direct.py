"""Bruker raw data into NMRPipe's layout: echo/antiecho conversion checked against NMRPipe's own conversion."""

import numpy as np
import pytest

from mrml.errors import DataError
from mrml.io import read
from mrml.stages.nmr_direct import best_zero_order_phase, to_states
from tests.conftest import REALDATA

HSQC = REALDATA / "nmr" / "bruker_parser_hsqc"


@pytest.mark.skipif(not (HSQC / "test.fid").exists(), reason="real data not present")
def test_echo_antiecho_conversion_matches_nmrpipes_conversion_of_the_same_ser():
    raw = read(HSQC)
    states = to_states(np.asarray(raw.data), raw.header["encodings"][0])
    pipe = read(HSQC / "test.fid")  # the depositor's bruk2pipe output of the same data
    assert np.allclose(states, pipe.data, rtol=1e-5, atol=1e-3 * np.abs(pipe.data).max())
    with pytest.raises(DataError, match="not supported"):
        to_states(np.asarray(raw.data), "tppi")


def test_zero_order_phase_of_a_dispersive_line_ignores_the_solvent():
    f = np.fft.fftfreq(1024)
    lines = 1.0 / (0.002 - 1j * (f - 0.1)) + 0.5 / (0.002 - 1j * (f + 0.2))  # absorptive in the real part
    solvent = 5.0 / (0.002 - 1j * (f - 0.0)) * np.exp(1j * 1.0)  # big, at another phase
    rotated = (lines + solvent) * np.exp(-1j * np.deg2rad(70.0))
    # approximate (5-8 degrees here and on the real HSQC); exact phases can be given with --direct-phase
    assert best_zero_order_phase(rotated) == pytest.approx(70.0, abs=8.0)


def test_states_tppi_pairs_are_negated_at_odd_increments():
    rows = np.arange(1, 9, dtype=float).reshape(8, 1) * (1 + 1j)
    out = to_states(rows, "states-tppi", increments=np.array([0, 3, 4, 7]))
    assert np.array_equal(out[:, 0], rows[:, 0] * np.array([1, 1, -1, -1, 1, 1, -1, -1]))


# --- 3D: a simulated Bruker 3D NUS folder (HNCA-like), written as TopSpin lays it out -----------------------------

SIZES = (12, 10, 128)  # complex points: 13C (acqu3s, Z), 15N (acqu2s, Y), 1H (acqus, direct)
PEAK_PPM = (57.3, 121.4, 8.45)


def _bruker_hnca(folder, *, fraction=1.0, seed=0):
    """Write acqus, acqu2s, acqu3s, ser and nuslist; 15N echo/antiecho, 13C States-TPPI, float64 data.

    Per nuslist line (y, z) the ser holds four FIDs, the 15N quadrature component varying fastest
    (NESTA-NMR's documented order; NMRFx reads nuslists the same way). Returns the nuslist (y, z).
    """
    import dataclasses

    import nmrglue as ng

    from simulators.nmr.fid import default_dimensions, synthesise
    from simulators.nmr.peaks import PeakList
    from simulators.nmr.schedules import poisson_gap_2d

    dims = tuple(dataclasses.replace(d, n_complex=n) for d, n in zip(default_dimensions("hnca"), SIZES))
    peaks = PeakList("hnca", ("13C", "15N", "1H"), np.array([PEAK_PPM]), np.array([1.0]),
                     np.array([[30.0, 15.0, 40.0]]), np.zeros((1, 3, 2)), np.array([0]))
    cube = synthesise(peaks, dims, np.random.default_rng(seed)).astype(np.complex128)  # (2 nz, 2 ny, nx) States
    n_z, n_y, n_x = SIZES
    rng = np.random.default_rng(seed)
    if fraction < 1:
        nuslist = poisson_gap_2d((n_y, n_z), int(fraction * n_y * n_z), rng=rng)
    else:
        nuslist = np.stack(np.unravel_index(np.arange(n_y * n_z), (n_y, n_z)), axis=1)
    nuslist = nuslist[rng.permutation(len(nuslist))]  # acquisition order need not be sorted
    fids = []
    for y, z in nuslist:
        for zc in (0, 1):
            r, i = cube[2 * z + zc, 2 * y], cube[2 * z + zc, 2 * y + 1]
            a, b = (r - 1j * i) / 2, (-r - 1j * i) / 2  # echo/antiecho: (A - B, i (A + B)) = (R, I)
            fids += [a * (-1) ** z, b * (-1) ** z]  # States-TPPI in 13C
    folder.mkdir(parents=True)
    np.stack(fids).astype(np.complex128).view(np.float64).astype("<f8").tofile(folder / "ser")
    np.savetxt(folder / "nuslist", nuslist, fmt="%d")
    common = {"_coreheader": [], "_comments": [], "BYTORDA": 0, "DTYPA": 2, "AQ_mod": 3, "GRPDLY": 0}
    for name, d, extra in (("acqus", dims[2], {"TD": 2 * n_x, "SW_h": dims[2].sw_hz}),
                           ("acqu2s", dims[1], {"TD": 2 * n_y, "FnMODE": 6}),
                           ("acqu3s", dims[0], {"TD": 2 * n_z, "FnMODE": 5})):
        ng.bruker.write_jcamp({**common, **extra, "SW": d.sw_hz / d.obs_mhz, "SFO1": d.obs_mhz, "BF1": d.obs_mhz,
                               "O1": d.car_ppm * d.obs_mhz, "NUC1": d.label}, str(folder / name))
    return nuslist


def _peak_ppm(spectrum, processed):
    """ppm of the largest |point| of a processed cube in each dimension."""
    import nmrglue as ng

    from mrml.stages.nus3d import frequency_header

    dic = frequency_header(spectrum.header, processed.shape)
    where = np.unravel_index(np.argmax(np.abs(processed)), processed.shape)
    return [ng.pipe.make_uc(dic, processed, dim=k).ppm(int(where[k])) for k in range(3)]


def test_bruker_3d_nus_folder_is_read_converted_and_expanded_with_the_peak_in_place(tmp_path):
    from mrml.stages.nmr_direct import bruker_cube
    from mrml.stages.nus3d import process_indirect

    nuslist = _bruker_hnca(tmp_path / "full")
    raw = read(tmp_path / "full")
    assert raw.data.shape == (len(nuslist), 4, SIZES[2])
    assert raw.header["encodings"][:2] == ["states-tppi", "echo-antiecho"]
    cube, info = bruker_cube(raw)
    assert cube.data.shape == (2 * SIZES[0], 2 * SIZES[1], 2 * SIZES[2]) and info["n_full"] == SIZES[:2]
    ppm = _peak_ppm(cube, process_indirect(cube.data))
    # within one point of each axis after zero filling (13C 1.2 ppm / 24, 15N 0.55 ppm, 1H 0.03 ppm)
    assert np.allclose(ppm, PEAK_PPM, atol=[0.8, 0.6, 0.03]), ppm
    nus = _bruker_hnca(tmp_path / "nus", fraction=0.3, seed=1)
    sub, _ = bruker_cube(read(tmp_path / "nus"), p0_deg=info["p0_deg"])  # automatic: up to 180 degrees apart
    keep = np.zeros(SIZES[:2], bool)
    keep[nus[:, 1], nus[:, 0]] = True
    mask = np.repeat(np.repeat(keep, 2, 0), 2, 1)
    full = np.asarray(cube.data)
    assert np.allclose(np.asarray(sub.data)[mask], full[mask], atol=1e-4 * np.abs(full).max())
    assert not np.any(np.asarray(sub.data)[~mask])


def test_reconstruct_takes_a_bruker_3d_nus_folder(tmp_path):
    from click.testing import CliRunner

    from mrml.cli import main
    from mrml.stages.nmr_direct import bruker_cube
    from mrml.stages.nus3d import process_indirect

    _bruker_hnca(tmp_path / "full")
    _bruker_hnca(tmp_path / "nus", fraction=0.3, seed=1)
    full, info = bruker_cube(read(tmp_path / "full"))
    ref = process_indirect(full.data)
    zf = process_indirect(bruker_cube(read(tmp_path / "nus"), p0_deg=info["p0_deg"])[0].data)
    out = tmp_path / "rec.ft1"
    res = CliRunner().invoke(main, ["reconstruct", str(tmp_path / "nus"), "-o", str(out), "--method", "ist",
                                    "--direct-phase", str(info["p0_deg"]), "--json"])
    assert res.exit_code == 0, res.output
    rec = read(out)
    assert rec.ndim == 3 and rec.format == "nmrpipe"
    err = np.linalg.norm(process_indirect(rec.data) - ref) / np.linalg.norm(ref)
    assert err < 0.5 * np.linalg.norm(zf - ref) / np.linalg.norm(ref)
    other = tmp_path / "other"
    other.write_text("0 0\n1 1\n")
    res = CliRunner().invoke(main, ["reconstruct", str(tmp_path / "nus"), "--schedule", str(other), "-o",
                                    str(tmp_path / "x.ft1")])
    assert res.exit_code != 0 and "differs from the folder's nuslist" in res.output


def test_a_nuslist_that_does_not_fit_the_experiment_is_a_one_line_error(tmp_path):
    from click.testing import CliRunner

    from mrml.cli import main

    _bruker_hnca(tmp_path / "nus", fraction=0.3)
    (tmp_path / "nus" / "acqu3s").unlink()  # now a 2D experiment with a two-column nuslist
    res = CliRunner().invoke(main, ["reconstruct", str(tmp_path / "nus"), "-o", str(tmp_path / "x.ft1")])
    assert res.exit_code != 0 and "does not fit a 2D experiment" in res.output and "Traceback" not in res.output
