"""``.npy`` arrays: DeerLab-style ``(t_us, V)`` pairs and plain arrays."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from mrml.errors import InputError
from mrml.io import npy
from mrml.spectrum import Axis, Spectrum

REALDATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "realdata" / "deer"


def test_two_rows_is_a_trace(tmp_path):
    t = np.linspace(-0.3, 4.0, 50)
    np.save(tmp_path / "a.npy", np.stack([t, np.cos(t)]))
    s = npy.read(tmp_path / "a.npy")
    assert s.format == "npy" and s.shape == (50,)
    assert (s.axes[0].label, s.axes[0].domain, s.axes[0].unit) == ("t", "time", "us")
    np.testing.assert_array_equal(s.axes[0].coords(), t)
    np.testing.assert_array_equal(s.data, np.cos(t))


def test_two_columns_is_a_trace(tmp_path):
    t = np.linspace(0, 2, 30)
    np.save(tmp_path / "a.npy", np.column_stack([t, t**2]))
    s = npy.read(tmp_path / "a.npy")
    np.testing.assert_array_equal(s.axes[0].coords(), t)
    np.testing.assert_array_equal(s.data, t**2)


def test_complex_trace(tmp_path):
    t = np.linspace(0, 2, 30)
    np.save(tmp_path / "a.npy", np.stack([t + 0j, np.exp(1j * t)]))
    s = npy.read(tmp_path / "a.npy")
    assert np.iscomplexobj(s.data) and s.axes[0].domain == "time"


@pytest.mark.parametrize("shape", [(2, 40), (40, 2), (16, 16), (7,), (2, 3, 4)])
def test_other_arrays_get_index_axes(tmp_path, shape):
    arr = np.random.default_rng(0).normal(size=shape)  # first row not increasing
    np.save(tmp_path / "a.npy", arr)
    s = npy.read(tmp_path / "a.npy")
    assert s.shape == shape and all(a.domain == "index" for a in s.axes)
    np.testing.assert_array_equal(s.data, arr)


def test_integer_image_keeps_dtype(tmp_path):
    np.save(tmp_path / "img.npy", np.arange(12, dtype=np.int32).reshape(3, 4))
    assert npy.read(tmp_path / "img.npy").data.dtype == np.int32


@pytest.mark.parametrize("complex_", [False, True])
def test_roundtrip_trace(tmp_path, complex_):
    t = np.linspace(0, 3, 25)
    v = np.exp(-t) * (np.exp(1j * t) if complex_ else 1)
    s = Spectrum(v, (Axis("t", 25, "time", "us", t),))
    npy.write(tmp_path / "o.npy", s)
    assert [p.name for p in tmp_path.iterdir()] == ["o.npy"]  # atomic: no temp file left
    assert np.load(tmp_path / "o.npy").shape == (2, 25)  # DeerLab's layout
    r = npy.read(tmp_path / "o.npy")
    np.testing.assert_array_equal(r.data, v)
    np.testing.assert_array_equal(r.axes[0].coords(), t)


def test_roundtrip_plain_array(tmp_path):
    arr = np.random.default_rng(1).normal(size=(5, 6))
    npy.write(tmp_path / "o.npy", Spectrum(arr, (Axis("a", 5), Axis("b", 6))))
    np.testing.assert_array_equal(npy.read(tmp_path / "o.npy").data, arr)


def test_write_converts_ns_to_us(tmp_path):
    s = Spectrum([1.0, 2.0, 3.0], (Axis("t", 3, "time", "ns", [0, 8, 16]),))
    npy.write(tmp_path / "o.npy", s)
    np.testing.assert_allclose(npy.read(tmp_path / "o.npy").axes[0].coords(), [0, 0.008, 0.016])


def save_truncated(path):
    np.save(path, np.arange(100.0))
    path.write_bytes(path.read_bytes()[:-80])


def save_npz(path):
    with open(path, "wb") as fh:  # an .npz archive under a .npy name
        np.savez(fh, a=np.zeros(3))


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda p: np.save(p, np.array([{"a": 1}], dtype=object)), "pickled"),
        (lambda p: p.write_text("0 1\n1 2\n"), "not a .npy array \\(no NUMPY magic"),
        (lambda p: p.write_bytes(b""), "not a .npy array"),
        (lambda p: save_truncated(p), "not a readable .npy array"),
        (lambda p: np.save(p, np.zeros((0, 3))), "empty"),
        (lambda p: np.save(p, np.float64(3.0)), "scalar"),
        (lambda p: np.save(p, np.array(["a", "b"])), "expected numbers"),
        (lambda p: save_npz(p), "npz"),
    ],
)
def test_bad_npy(tmp_path, make, match):
    p = tmp_path / "bad.npy"
    make(p)
    with pytest.raises(InputError, match=match):
        npy.read(p)


@pytest.mark.parametrize(
    "name",
    ["example_droplets_data_1", "example_droplets_data_2"] + [f"example_data_titration_{i}" for i in range(1, 6)],
)
def test_real_deerlab_npy(name):
    path = REALDATA / f"{name}.npy"
    if not path.exists():
        pytest.skip(f"{path} not present")
    before = (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
    s = npy.read(path)
    assert (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns) == before
    raw = np.load(path)
    assert s.shape == (raw.shape[1],) and s.axes[0].domain == "time"
    np.testing.assert_array_equal(s.axes[0].coords(), raw[0])
    np.testing.assert_array_equal(s.data, raw[1])
