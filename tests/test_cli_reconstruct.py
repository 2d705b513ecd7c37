"""`mrml reconstruct`: the FID-Net NUS example end to end, IST quality on simulated planes, bad input."""

import json
import subprocess
import sys

import numpy as np
import pytest

from mrml.io import read, write
from mrml.stages.nus import reconstruct
from simulators.nmr.schedules import poisson_gap
from tests.conftest import REALDATA, ROOT

NUS = REALDATA / "nmr" / "nus"
needs_nus = pytest.mark.skipif(not (NUS / "hdac_ex.ft1").exists(), reason="real data not present")


def mrml(*args):
    return subprocess.run([sys.executable, "-m", "mrml.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


@needs_nus
def test_fidnet_example_reconstructs_to_the_full_indirect_time_domain(tmp_path):
    src = NUS / "hdac_ex.ft1"
    before = src.read_bytes()
    res = mrml("reconstruct", src, "--schedule", NUS / "ss_hdac.out", "--points", 192, "-o", tmp_path / "full.ft1",
               "--json")
    assert res.returncode == 0, res.stderr
    info = json.loads(res.stdout)
    assert info["n_sampled"] == 24 and info["n_points"] == 192 and info["sampling_fraction"] == 0.125
    full, sampled = read(tmp_path / "full.ft1"), read(src)
    assert full.shape == (384, 408) and full.header["FDF1TDSIZE"] == 192
    sched = np.loadtxt(NUS / "ss_hdac.out", dtype=int)
    rows = np.ravel(np.column_stack([2 * sched, 2 * sched + 1]))
    assert np.allclose(full.data[rows], sampled.data)  # measured points kept, in their places
    assert src.read_bytes() == before  # input untouched


def test_ist_plane_beats_zero_filling_on_a_simulated_plane(tmp_path):
    """A written and re-read NMRPipe plane of Lorentzian lines: IST spectrum close to the full one."""
    rng = np.random.default_rng(4)
    n_full, n_cols = 128, 40
    t = np.arange(n_full)[:, None]
    fid = np.zeros((n_full, n_cols), complex)
    for c in range(0, n_cols, 3):
        fid[:, c] = np.exp((2j * np.pi * rng.uniform(-0.4, 0.4) - 0.01) * t[:, 0])
    sched = poisson_gap(n_full, 32, rng=rng)
    plane = np.empty((2 * len(sched), n_cols), np.float32)
    plane[0::2], plane[1::2] = fid[sched].real, fid[sched].imag
    from mrml.spectrum import Axis, Spectrum
    sp = Spectrum(plane, (Axis("15N", plane.shape[0], "time", "us", sw_hz=2000.0, obs_mhz=60.8, car_hz=7000.0),
                          Axis("1H", n_cols, "frequency", "ppm", sw_hz=8000.0, obs_mhz=600.0, car_hz=2800.0)))
    write(tmp_path / "nus.ft1", sp)
    out, info = reconstruct(read(tmp_path / "nus.ft1"), sched, n_points=n_full)
    rec = out.data[0::2].astype(float) + 1j * out.data[1::2]
    spec, ref = np.fft.fft(rec, axis=0), np.fft.fft(fid, axis=0)
    zf = np.zeros_like(fid)
    zf[sched] = fid[sched]
    err, err_zf = (np.linalg.norm(s - ref) / np.linalg.norm(ref) for s in (spec, np.fft.fft(zf, axis=0)))
    assert err < 0.1 and err < 0.2 * err_zf
    assert info.sampling_fraction == 0.25


@needs_nus
@pytest.mark.parametrize(("schedule", "extra", "message"), [
    ("0\n1\n2\n", [], "lists 3 points but the file holds 24"),
    ("0\n1\n1\n", [], "more than once"),
    ("0 1\n2 3\n", [], "one-column schedule"),
    (None, ["--points", "100"], "beyond the 100 complex points"),
])
def test_bad_schedules_give_one_line_errors(tmp_path, schedule, extra, message):
    path = NUS / "ss_hdac.out"
    if schedule is not None:
        path = tmp_path / "bad.out"
        path.write_text(schedule)
    res = mrml("reconstruct", NUS / "hdac_ex.ft1", "--schedule", path, *extra, "-o", tmp_path / "o.ft1")
    assert res.returncode == 2 and message in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr
    assert not (tmp_path / "o.ft1").exists()


@needs_nus
def test_frequency_domain_indirect_dimension_and_truncated_file_are_refused(tmp_path):
    hsqc = REALDATA / "nmr" / "bruker_parser_hsqc" / "test.ft2"
    res = mrml("reconstruct", hsqc, "--schedule", NUS / "ss_hdac.out", "-o", tmp_path / "o.ft2")
    assert res.returncode == 2 and "frequency domain" in res.stderr
    raw = (NUS / "hdac_ex.ft1").read_bytes()
    (tmp_path / "cut.ft1").write_bytes(raw[:-5000])
    res = mrml("reconstruct", tmp_path / "cut.ft1", "--schedule", NUS / "ss_hdac.out", "-o", tmp_path / "o.ft1")
    assert res.returncode == 2 and "truncated" in res.stderr and "Traceback" not in res.stderr


def test_schedule_command_makes_a_schedule_that_reconstruct_accepts(tmp_path):
    res = mrml("schedule", "--points", 192, "--fraction", 0.125, "--seed", 4, "-o", tmp_path / "ss.out", "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["sampled"] == 24
    sched = np.loadtxt(tmp_path / "ss.out", dtype=int)
    assert sched.shape == (24,) and sched[0] == 0 and len(set(sched)) == 24
    res = mrml("schedule", "--points", 192, "--sampled", 300, "-o", tmp_path / "bad.out")
    assert res.returncode == 2 and "between 1 and 192" in res.stderr


HSQC = REALDATA / "nmr" / "bruker_parser_hsqc"


def _indirect_spectrum(plane):
    import nmrglue as ng

    ppm = plane.axes[1].coords()
    amide = (ppm > 5.5) & (ppm < 11.0)
    dic, data = ng.pipe_proc.tp(dict(plane.header), np.asarray(plane.data, np.float32))
    dic, data = ng.pipe_proc.sp(dic, data, off=0.5, end=1.0, pow=1, c=0.5)
    dic, data = ng.pipe_proc.zf(dic, data, size=512)
    dic, data = ng.pipe_proc.ft(dic, data, auto=True)
    dic, data = ng.pipe_proc.di(dic, data)
    # amide region only; the outer 15N points carry an axial artefact of this data set
    return np.asarray(data, float)[amide][:, 16:-16]


@pytest.mark.skipif(not (HSQC / "ser").exists(), reason="real data not present")
@pytest.mark.parametrize("method", ["net", "ist"])
def test_bruker_nus_folder_is_processed_and_reconstructed(tmp_path, method):
    """Retrospective NUS of the real Bruker HSQC: a folder with a 25 % ser and nuslist, straight into reconstruct."""
    import shutil

    from mrml.stages.nmr_direct import bruker_plane

    nus = tmp_path / "12"
    nus.mkdir()
    for name in ("acqus", "acqu2s"):
        shutil.copy(HSQC / name, nus / name)
    raw = np.fromfile(HSQC / "ser", dtype="<i4").reshape(512, 1024)
    sched = poisson_gap(256, 64, rng=np.random.default_rng(0))
    raw[np.ravel(np.column_stack([2 * sched, 2 * sched + 1]))].tofile(nus / "ser")
    np.savetxt(nus / "nuslist", sched, fmt="%d")
    res = mrml("reconstruct", nus, "-o", tmp_path / "full.ft1", "--method", method, "--json")
    assert res.returncode == 0, res.stderr
    info = json.loads(res.stdout)
    assert (info["n_sampled"], info["n_points"]) == (64, 256)
    rec = read(tmp_path / "full.ft1")
    ref, _ = bruker_plane(read(HSQC))
    assert rec.shape == ref.shape == (512, 1024)
    s_rec, s_ref = _indirect_spectrum(rec), _indirect_spectrum(ref)
    err = np.linalg.norm(s_rec - s_ref) / np.linalg.norm(s_ref)
    assert err < 0.25  # measured at 25 %: IST 0.151, net 0.163


def test_shipped_nus_example_reconstructs_close_to_its_full_version(tmp_path):
    """data/example_hsqc_nus.ft1 (made by data/make_examples.py): 25 % of a simulated HSQC's 15N points."""
    from mrml import models

    data = read(ROOT / "data" / "example_hsqc_full.ft1").data.astype(float)
    args = ["reconstruct", ROOT / "data" / "example_hsqc_nus.ft1", "--schedule", ROOT / "data" / "example_hsqc_nuslist",
            "--points", 128, "-o", tmp_path / "full.ft1"]
    method = "net" if "nusnet" in models.list_models() else "ist"
    res = mrml(*args, "--method", method)
    assert res.returncode == 0, res.stderr
    (line,) = res.stdout.splitlines()  # one line for a person to read
    assert line.startswith(f"{args[1]}: {method}, 32 of 128 points (25.0%)")
    assert line.endswith(f"-> {tmp_path / 'full.ft1'}")

    from mrml.stages.nus import indirect_spectrum

    def spectrum(plane):
        return indirect_spectrum(plane[0::2] + 1j * plane[1::2])

    ref = spectrum(data)
    err = np.linalg.norm(spectrum(read(tmp_path / "full.ft1").data.astype(float)) - ref) / np.linalg.norm(ref)
    assert err < 0.2  # measured: net 0.108, ist 0.115, zero filling 0.742


def test_3d_plane_series_in_and_out_gives_what_the_single_stream_gives(tmp_path):
    """NMRPipe's file-per-plane 3D layout (nusExpand.tcl's output) through `mrml reconstruct`."""
    cube = read(ROOT / "data" / "example_hnca_nus.ft1")
    (tmp_path / "fid").mkdir()
    (tmp_path / "rec").mkdir()
    write(tmp_path / "fid" / "test%03d.fid", cube)
    sched = ROOT / "data" / "example_hnca_nuslist"
    res = mrml("reconstruct", tmp_path / "fid" / "test%03d.fid", "--schedule", sched, "--method", "ist",
               "--iterations", 20, "-o", tmp_path / "rec" / "test%03d.ft1")
    assert res.returncode == 0, res.stderr
    assert len(list((tmp_path / "rec").glob("test*.ft1"))) == cube.data.shape[0]
    res = mrml("reconstruct", ROOT / "data" / "example_hnca_nus.ft1", "--schedule", sched, "--method", "ist",
               "--iterations", 20, "-o", tmp_path / "stream.ft1")
    assert res.returncode == 0, res.stderr
    assert np.array_equal(read(tmp_path / "rec" / "test%03d.ft1").data, read(tmp_path / "stream.ft1").data)
    res = mrml("reconstruct", tmp_path / "fid" / "test%03d.fid", "--schedule", sched, "--method", "ist",
               "-o", tmp_path / "rec" / "test%03d.ft1")
    assert res.returncode != 0 and "exists; use --overwrite" in res.stderr and "Traceback" not in res.stderr
