"""Column-text DEER traces, and the suffix dispatch of ``mrml.io.read``/``write``."""

from __future__ import annotations

import numpy as np
import pytest

import mrml.io
from mrml.errors import InputError
from mrml.io import text
from mrml.spectrum import Axis, Spectrum


def trace(n=40, *, complex_=False) -> Spectrum:
    rng = np.random.default_rng(3)
    t_us = np.linspace(-0.2, 3.5, n)
    v = rng.normal(size=n) + (1j * rng.normal(size=n) if complex_ else 0)
    return Spectrum(v, (Axis("t", n, "time", "us", t_us),))


def test_two_columns_whitespace(tmp_path):
    p = tmp_path / "v.txt"
    p.write_text("# DEER trace\n\n0.0  1.0\n0.008\t0.9\n 0.016   0.8 \n")
    s = text.read(p)
    assert s.format == "text" and s.shape == (3,)
    assert (s.axes[0].label, s.axes[0].domain, s.axes[0].unit) == ("t", "time", "us")
    np.testing.assert_array_equal(s.axes[0].coords(), [0, 0.008, 0.016])
    np.testing.assert_array_equal(s.data, [1.0, 0.9, 0.8])
    assert s.header["header_lines"] == ("# DEER trace",)


def test_three_columns_csv_with_title_line(tmp_path):
    p = tmp_path / "v.csv"
    p.write_text("time,real,imag\n0,1,0.5\n0.1,0.5,-0.25\n")
    s = text.read(p)
    np.testing.assert_array_equal(s.data, [1 + 0.5j, 0.5 - 0.25j])
    np.testing.assert_array_equal(s.axes[0].coords(), [0, 0.1])


def test_one_column_gives_index_axis(tmp_path):
    p = tmp_path / "v.dat"
    p.write_text("1\n2\n3\n")
    s = text.read(p)
    assert s.axes[0].domain == "index" and s.shape == (3,)


@pytest.mark.parametrize(
    "title,scale", [("# t_ns V", 1e-3), ("time (ns), V", 1e-3), ("t [ms] V", 1e3), ("# t_us V", 1.0), ("# x y", 1.0)]
)
def test_explicit_time_unit_in_title_is_honoured(tmp_path, title, scale):
    p = tmp_path / "v.txt"
    p.write_text(f"{title}\n100 1\n200 2\n")
    np.testing.assert_allclose(text.read(p).axes[0].coords(), np.array([100, 200]) * scale)


def test_nan_and_inf_are_read_not_judged(tmp_path):
    p = tmp_path / "v.txt"
    p.write_text("0 nan\n1 inf\n2 1\n")
    s = text.read(p)
    assert np.isnan(s.data[0]) and np.isinf(s.data[1])


@pytest.mark.parametrize(
    "content,match",
    [
        ("", "no numeric data"),
        ("# only a comment\nt V\n", "no numeric data"),
        ("0 1\n1 2 3\n", "line 2 has 3 columns"),
        ("0 1\n1 abc\n", "line 2: cannot parse"),
        ("0 1 2 3\n1 2 3 4\n", "4 columns"),
    ],
)
def test_bad_text(tmp_path, content, match):
    p = tmp_path / "bad.txt"
    p.write_text(content)
    with pytest.raises(InputError, match=match):
        text.read(p)


def test_binary_file_named_txt(tmp_path):
    p = tmp_path / "pic.txt"
    p.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(InputError, match="binary"):
        text.read(p)


@pytest.mark.parametrize("suffix", [".txt", ".dat", ".csv"])
@pytest.mark.parametrize("complex_", [False, True])
def test_roundtrip(tmp_path, suffix, complex_):
    s = trace(complex_=complex_)
    p = tmp_path / f"out{suffix}"
    text.write(p, s)
    r = text.read(p)
    np.testing.assert_array_equal(r.data, s.data)  # %.17g keeps every bit
    np.testing.assert_array_equal(r.axes[0].coords(), s.axes[0].coords())
    assert [q.name for q in tmp_path.iterdir()] == [p.name]  # atomic: no temp file left
    assert ("," in p.read_text().splitlines()[1]) == (suffix == ".csv")


def test_write_converts_time_to_us_and_index_to_one_column(tmp_path):
    s = Spectrum([1.0, 2.0], (Axis("t", 2, "time", "ns", [0.0, 8.0]),))
    text.write(tmp_path / "a.txt", s)
    np.testing.assert_allclose(text.read(tmp_path / "a.txt").axes[0].coords(), [0, 0.008])
    idx = Spectrum([1.0, 2.0, 3.0], (Axis("i", 3),))
    text.write(tmp_path / "b.txt", idx)
    assert text.read(tmp_path / "b.txt").axes[0].domain == "index"


def test_write_rejects_2d(tmp_path):
    s = Spectrum(np.zeros((2, 3)), (Axis("a", 2), Axis("b", 3)))
    with pytest.raises(InputError, match="1-D"):
        text.write(tmp_path / "x.txt", s)


def test_input_file_unchanged(tmp_path):
    p = tmp_path / "v.txt"
    p.write_text("0 1\n1 2\n")
    before = (p.read_bytes(), p.stat().st_mtime_ns)
    text.read(p)
    assert (p.read_bytes(), p.stat().st_mtime_ns) == before


# ----------------------------------------------------------------------------- dispatch (mrml.io)


@pytest.mark.parametrize(
    "name,fmt",
    [("a.DTA", "bes3t"), ("a.dsc", "bes3t"), ("a.txt", "text"), ("a.DAT", "text"), ("a.csv", "text"), ("a.npy", "npy")],
)
def test_format_for(name, fmt):
    assert mrml.io.format_for(name) == fmt


def test_dispatch_read_write(tmp_path):
    s = trace(complex_=True)
    for name in ("x.txt", "x.npy", "x.DTA"):
        mrml.io.write(tmp_path / name, s)
        r = mrml.io.read(tmp_path / name)
        np.testing.assert_array_equal(r.data, s.data)


def test_unknown_suffix_and_missing_file(tmp_path):
    with pytest.raises(InputError, match="unknown file type '.xyz'"):
        mrml.io.read(tmp_path / "a.xyz")
    with pytest.raises(InputError, match="no such file"):
        mrml.io.read(tmp_path / "missing.txt")
    with pytest.raises(InputError, match="unknown output type"):
        mrml.io.write(tmp_path / "a.xyz", trace())
    (tmp_path / "d.txt").mkdir()
    with pytest.raises(InputError, match="is a directory"):
        mrml.io.read(tmp_path / "d.txt")
