"""NMRPipe files through nmrglue: axes, header round trip, resizing, bad files."""

from pathlib import Path

import numpy as np
import pytest

from mrml.errors import InputError
from mrml.io import read, write
from tests.conftest import REALDATA

ROOT = Path(__file__).resolve().parents[2]

HDAC = REALDATA / "nmr" / "nus" / "hdac_ex.ft1"
needs_hdac = pytest.mark.skipif(not HDAC.exists(), reason="real data not present")


@needs_hdac
def test_reads_fidnet_nus_example_with_axes():
    sp = read(HDAC)
    assert sp.format == "nmrpipe" and sp.shape == (48, 408)  # 24 complex indirect points, interleaved
    c13, h1 = sp.axes
    assert (c13.label, c13.domain, h1.label, h1.domain) == ("13C", "time", "1H", "frequency")
    assert h1.coords()[0] == pytest.approx(2.40, abs=0.01) and h1.coords()[-1] == pytest.approx(-0.70, abs=0.01)
    assert c13.sw_hz == pytest.approx(4545.5, abs=0.1) and c13.obs_mhz == pytest.approx(201.25, abs=0.01)
    assert sp.header["FDF1LABEL"] == "13C"


def test_a_new_plane_with_an_indirect_time_domain_is_written_as_states_pairs(tmp_path):
    """A spectrum without an NMRPipe header whose indirect dimension is in the time domain (interleaved States
    rows) gets a complex indirect dimension, so nmrglue (as NMRPipe) reads it back whole and transforms
    its rows as pairs: a line at +1/4 of the spectral width lands there after ``ZF | FT | DI``."""
    import nmrglue as ng

    from mrml.spectrum import Axis, Spectrum

    n = 32
    td = np.exp(2j * np.pi * 0.25 * np.arange(n))
    rows = np.zeros((2 * n, 8), np.float32)
    rows[0::2], rows[1::2] = td.real[:, None], td.imag[:, None]
    axes = (Axis("15N", 2 * n, "time", "us", sw_hz=2000.0, obs_mhz=60.8, car_hz=7100.0),
            Axis("1H", 8, "frequency", "ppm", sw_hz=6000.0, obs_mhz=600.0, car_hz=2800.0))
    write(tmp_path / "new.ft1", Spectrum(rows, axes))
    dic, data = ng.pipe.read(str(tmp_path / "new.ft1"))
    assert data.shape == rows.shape and dic["FDF1QUADFLAG"] == 0 and dic["FDF1TDSIZE"] == n
    dic, data = ng.pipe_proc.tp(dic, data)
    dic, data = ng.pipe_proc.zf(dic, data)
    dic, data = ng.pipe_proc.ft(dic, data, auto=True)
    dic, data = ng.pipe_proc.di(dic, data)
    dic, data = ng.pipe_proc.tp(dic, data)
    assert data.shape == (2 * n, 8)
    hz = ng.pipe.make_uc(dic, data, dim=0).hz(int(np.argmax(np.abs(data[:, 0]))))
    assert hz - 7100.0 == pytest.approx(0.25 * 2000.0, abs=2000.0 / (2 * n))


@needs_hdac
def test_round_trip_keeps_data_and_header_and_resizes_indirect_time(tmp_path):
    sp = read(HDAC)
    write(tmp_path / "copy.ft1", sp)
    back = read(tmp_path / "copy.ft1")
    assert np.array_equal(back.data, sp.data)
    assert {k: v for k, v in back.header.items() if k != "FDFILECOUNT"} == \
        {k: v for k, v in sp.header.items() if k != "FDFILECOUNT"}
    full = np.zeros((2 * 192, 408), np.float32)
    full[:48] = sp.data
    write(tmp_path / "full.ft1", sp.replace(data=full, axes=(sp.axes[0].__class__(
        label="13C", size=384, domain="time", unit="us", sw_hz=sp.axes[0].sw_hz, obs_mhz=sp.axes[0].obs_mhz,
        car_hz=sp.axes[0].car_hz), sp.axes[1])))
    grown = read(tmp_path / "full.ft1")
    assert grown.shape == (384, 408)
    assert grown.header["FDF1TDSIZE"] == 192 and grown.header["FDSPECNUM"] == 192
    assert np.array_equal(grown.data[:48], sp.data)


@needs_hdac
def test_truncated_and_fake_files_are_refused(tmp_path):
    raw = HDAC.read_bytes()
    (tmp_path / "cut.ft1").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(InputError, match="truncated"):
        read(tmp_path / "cut.ft1")
    (tmp_path / "fake.ft2").write_bytes(b"not an nmrpipe file" * 200)
    with pytest.raises(InputError, match="NMRPipe"):
        read(tmp_path / "fake.ft2")
    (tmp_path / "tiny.fid").write_bytes(b"\0" * 100)
    with pytest.raises(InputError, match="not an NMRPipe file"):
        read(tmp_path / "tiny.fid")


REAL_PIPE = sorted([*REALDATA.glob("nmr/*/*.ft*"), *REALDATA.glob("nmr/*/*.fid")])


@pytest.mark.parametrize("path", REAL_PIPE, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_real_nmrpipe_file_round_trips(tmp_path, path):
    sp = read(path)
    write(tmp_path / path.name, sp)
    back = read(tmp_path / path.name)
    assert back.shape == sp.shape and np.array_equal(back.data, sp.data)
    assert [ax.label for ax in back.axes] == [ax.label for ax in sp.axes]


def test_3d_plane_series_round_trip_and_refusals(tmp_path):
    """NMRPipe's usual 3D layout, a series of plane files (what nusExpand.tcl writes), reads as the stream does."""
    import nmrglue as ng

    cube = read(ROOT / "data" / "example_hnca_nus.ft1")
    series = tmp_path / "fid" / "test%03d.fid"
    series.parent.mkdir()
    write(series, cube)
    planes = sorted(series.parent.iterdir())
    assert [p.name for p in planes] == [f"test{k:03d}.fid" for k in range(1, cube.data.shape[0] + 1)]
    dic, plane = ng.pipe.read(str(planes[0]))  # each plane a complete 2D NMRPipe file of a 3D set
    assert dic["FDDIMCOUNT"] == 3 and dic["FDPIPEFLAG"] == 0 and plane.shape == cube.data.shape[1:]
    back = read(series)
    assert np.array_equal(back.data, cube.data)
    assert [a.sw_hz for a in back.axes] == pytest.approx([a.sw_hz for a in cube.axes])
    with pytest.raises(InputError, match="no plane file none001.fid"):
        read(tmp_path / "none%03d.fid")
    planes[50].unlink()
    with pytest.raises(InputError, match="plane 51 of 64 .* is missing"):
        read(series)
    write(series, cube)
    planes[3].write_bytes(planes[3].read_bytes()[:-100])
    with pytest.raises(InputError, match="test004.fid is truncated"):
        read(series)
    with pytest.raises(InputError, match="plane series holds 3D data"):
        write(tmp_path / "p%03d.ft2", read(ROOT / "data" / "example_hsqc_full.ft1"))
    assert not list(tmp_path.glob(".*tmp"))  # no temporary folder left behind
