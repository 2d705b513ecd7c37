"""NMRPipe files through nmrglue: axes, header round trip, resizing, bad files."""

import numpy as np
import pytest

from mrml.errors import InputError
from mrml.io import read, write
from tests.conftest import REALDATA

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
