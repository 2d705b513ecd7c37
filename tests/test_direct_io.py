"""Direct-I/O writes of large chunks: exact bytes, atomic, clean fallback, same stores as zarr's own writes."""

from __future__ import annotations

import os

import numpy as np
import pytest
import zarr

import mrml.direct_io as dio
from mrml.direct_io import ALIGN, DirectLocalStore, write_direct
from mrml.store import open_store, write_store


def _direct_supported(folder) -> bool:
    if not dio.direct_io_enabled():
        return False
    try:
        fd = os.open(os.path.join(folder, "probe"), os.O_WRONLY | os.O_CREAT | os.O_DIRECT)
    except OSError:
        return False
    os.close(fd)
    os.remove(os.path.join(folder, "probe"))
    return True


@pytest.fixture
def direct_dir(tmp_path):
    if not _direct_supported(tmp_path):
        pytest.skip("the test folder's file system refuses O_DIRECT")
    return tmp_path


@pytest.mark.parametrize("size", [1, ALIGN - 1, ALIGN, ALIGN + 1, 3 * 2**20 + 7])
def test_write_direct_round_trip(direct_dir, size):
    data = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes()
    target = direct_dir / "a" / "b" / "c"
    assert write_direct(target, data) == size
    assert target.read_bytes() == data
    assert sorted(p.name for p in target.parent.iterdir()) == ["c"]  # no temporary file left


def test_write_direct_replaces_atomically_and_cleans_up_on_failure(direct_dir, monkeypatch):
    target = direct_dir / "chunk"
    write_direct(target, b"old" * 5000)
    new = b"n" * (2 * ALIGN + 5)
    write_direct(target, new)
    assert target.read_bytes() == new

    def refuse(fd, length):
        raise OSError(22, "Invalid argument")

    monkeypatch.setattr(dio.os, "ftruncate", refuse)
    with pytest.raises(OSError):
        write_direct(target, b"x" * 10000)
    assert target.read_bytes() == new  # untouched
    assert [p.name for p in direct_dir.iterdir()] == ["chunk"]


def test_store_writes_large_chunks_directly_and_reads_back(direct_dir):
    store = DirectLocalStore(direct_dir / "s.zarr")
    group = zarr.open_group(store, mode="w", zarr_format=3)
    data = np.random.default_rng(0).standard_normal((4, 2**18)).astype(np.float32)  # 1 MiB chunks, incompressible
    arr = group.create_array("x", shape=data.shape, chunks=(1, 2**18), dtype="float32")
    arr[:] = data
    assert store.direct
    np.testing.assert_array_equal(zarr.open_group(str(direct_dir / "s.zarr"), mode="r")["x"][:], data)


def test_store_falls_back_to_zarrs_write_when_direct_io_is_refused(tmp_path, monkeypatch):
    def refuse(path, data):
        raise OSError(22, "Invalid argument")

    monkeypatch.setattr(dio, "write_direct", refuse)
    store = DirectLocalStore(tmp_path / "s.zarr")
    group = zarr.open_group(store, mode="w", zarr_format=3)
    data = np.random.default_rng(1).standard_normal(2**19).astype(np.float32)
    arr = group.create_array("x", shape=data.shape, chunks=data.shape, dtype="float32")
    arr[:] = data
    assert not store.direct
    np.testing.assert_array_equal(zarr.open_group(str(tmp_path / "s.zarr"), mode="r")["x"][:], data)


def test_switch_off(monkeypatch, tmp_path):
    monkeypatch.setenv("MRML_DIRECT_IO", "0")
    assert not DirectLocalStore(tmp_path / "s.zarr").direct


def test_training_store_identical_with_and_without_direct_io(direct_dir, monkeypatch):
    """Every chunk of a DEER store through O_DIRECT (threshold lowered): the same bytes as through the page cache."""
    kw = dict(n=600, chunk=200, seed=3, scheduler="threads", progress=False)
    monkeypatch.setenv("MRML_DIRECT_IO", "0")
    write_store(direct_dir / "cached.zarr", "deer", **kw)
    monkeypatch.setenv("MRML_DIRECT_IO", "1")
    monkeypatch.setattr(dio, "DIRECT_MIN_BYTES", 0)
    written = []
    real = dio.write_direct
    monkeypatch.setattr(dio, "write_direct", lambda path, data: written.append(path) or real(path, data))
    write_store(direct_dir / "direct.zarr", "deer", **kw)
    assert len(written) >= 3 * 2  # x and y of every chunk at least
    a, b = open_store(direct_dir / "cached.zarr"), open_store(direct_dir / "direct.zarr")
    assert a.complete and b.complete and a.names == b.names
    for name in a.names:
        assert a[name][:].tobytes() == b[name][:].tobytes(), name
