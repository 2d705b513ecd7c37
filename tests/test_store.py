"""Training stores: layout, determinism, chunk regeneration, resume, refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest
import zarr

from mrml.errors import InputError, MrmlError
from mrml.store import (
    MANIFEST,
    STORE_VERSION,
    chunk_rng,
    create_or_open_store,
    default_chunk,
    open_store,
    read_chunk,
    regenerate_chunk,
    status,
    write_chunk,
    write_store,
)
from simulators import get_simulator

N, CHUNK, SEED = 1000, 128, 5  # 8 chunks, the last one short (104 rows)
#: Local scheduler for tests that do not test schedulers (threads start at once;
#: the default is processes when threadpoolctl is not installed).
LOCAL = "threads"


def assert_stores_equal(a, b):
    """Every data array of two stores identical, byte for byte."""
    sa, sb = open_store(a), open_store(b)
    assert sa.names == sb.names
    for name in sa.names:
        x, y = sa[name][:], sb[name][:]
        assert x.dtype == y.dtype and x.shape == y.shape, name
        assert x.tobytes() == y.tobytes(), name


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("store") / "deer.zarr"
    summary = write_store(path, "deer", n=N, chunk=CHUNK, seed=SEED, progress=False, scheduler=LOCAL)
    assert summary["chunks_written"] == 8 and summary["complete"]
    return path


def test_layout_and_attributes(store_path):
    store = open_store(store_path)
    attrs = store.attrs
    assert attrs["mrml_store_version"] == STORE_VERSION
    assert attrs["simulator"] == "deer" and attrs["simulator_version"] == get_simulator("deer").version
    assert (attrs["seed"], attrs["n"], attrs["chunk"], attrs["n_chunks"]) == (SEED, N, CHUNK, 8)
    assert attrs["complete"] is True
    assert attrs["config"] == json.loads(json.dumps(get_simulator("deer").config))
    specs = get_simulator("deer").array_specs()
    assert set(store.names) == set(specs)
    for name, (shape, dtype) in specs.items():
        arr = store[name]
        assert arr.shape == (N, *shape) and arr.chunks == (CHUNK, *shape) and arr.dtype == np.dtype(dtype)
        assert arr.metadata.zarr_format == 3
        assert arr.compressors, f"{name} is not compressed"
    assert (store["n"], store["chunk"], store["seed"]) == (N, CHUNK, SEED) and "config" in store
    with pytest.raises(KeyError, match="no array or attribute 'nope'"):
        store["nope"]
    root = zarr.open_group(str(store_path), mode="r")
    assert isinstance(root["params"], zarr.Group) and "mod_depth" in root["params"]
    st = status(store_path)
    assert (st["done"], st["total"], st["traces_done"], st["missing"], st["complete"]) == (8, 8, N, [], True)


def test_same_seed_identical_other_seed_different(store_path, tmp_path):
    again = tmp_path / "again.zarr"
    write_store(again, "deer", n=N, chunk=CHUNK, seed=SEED, progress=False, scheduler=LOCAL)
    assert_stores_equal(store_path, again)
    other = tmp_path / "other.zarr"
    write_store(other, "deer", n=N, chunk=CHUNK, seed=SEED + 1, progress=False, scheduler=LOCAL)
    assert not np.array_equal(open_store(store_path)["x"][:], open_store(other)["x"][:])


@pytest.mark.parametrize("scheduler", ["processes", "sync"])
def test_local_schedulers_agree(store_path, tmp_path, scheduler):
    path = tmp_path / f"{scheduler}.zarr"
    summary = write_store(path, "deer", n=N, chunk=CHUNK, seed=SEED, scheduler=scheduler, workers=2, progress=False)
    assert summary["scheduler"] == {"sync": "synchronous"}.get(scheduler, scheduler)
    assert_stores_equal(store_path, path)


def test_auto_scheduler_uses_processes_only_for_many_chunks(store_path, tmp_path):
    from mrml.store import AUTO_PROCESSES_MIN_CHUNKS, _local_scheduler

    assert _local_scheduler("auto", n_tasks=AUTO_PROCESSES_MIN_CHUNKS, workers=2) == "processes"
    assert _local_scheduler("auto", n_tasks=AUTO_PROCESSES_MIN_CHUNKS, workers=1) == _local_scheduler(None)
    assert _local_scheduler("auto", n_tasks=AUTO_PROCESSES_MIN_CHUNKS - 1, workers=2) == _local_scheduler(None)
    path = tmp_path / "auto.zarr"
    summary = write_store(path, "deer", n=N, chunk=CHUNK, seed=SEED, scheduler="auto", workers=2, progress=False)
    assert summary["scheduler"] == _local_scheduler(None)  # N / CHUNK chunks: too few for processes
    assert_stores_equal(store_path, path)


def test_chunk_regenerates_alone(store_path):
    store = open_store(store_path)
    sim = get_simulator("deer", store.config)
    rows = slice(3 * CHUNK, 4 * CHUNK)
    fresh = sim.simulate(CHUNK, np.random.default_rng([SEED, 3]))
    for name, arr in fresh.items():
        assert np.array_equal(store[name][rows], arr), name
    again = regenerate_chunk(store_path, 7)  # the short last chunk
    stored = read_chunk(store_path, 7)
    assert stored["x"].shape[0] == N - 7 * CHUNK
    for name in stored:
        assert stored[name].tobytes() == again[name].tobytes(), name


def test_resume_rewrites_chunks_without_marker(store_path, tmp_path):
    path = tmp_path / "partial.zarr"
    sim = get_simulator("deer")
    store = create_or_open_store(path, sim, n=N, chunk=CHUNK, seed=SEED)
    for i in (0, 2, 5):
        write_chunk(path, "deer", store.config, seed=SEED, n=N, chunk=CHUNK, i=i)
    # a chunk whose arrays were (partly) written but whose marker was not: must be redone
    store.group["x"][CHUNK:2 * CHUNK] = np.full((CHUNK, 256), 7 + 7j, dtype=np.complex64)
    st = status(path)
    assert (st["done"], st["total"], st["complete"]) == (3, 8, False)
    assert st["missing"] == [1, 3, 4, 6, 7]
    with pytest.raises(InputError, match="chunk 1 has not been written"):
        read_chunk(path, 1)
    summary = write_store(path, "deer", n=N, chunk=CHUNK, seed=SEED, resume=True, progress=False, scheduler=LOCAL)
    assert (summary["chunks_written"], summary["chunks_skipped"], summary["complete"]) == (5, 3, True)
    assert_stores_equal(store_path, path)
    # resuming a complete store does nothing
    summary = write_store(path, "deer", n=N, chunk=CHUNK, seed=SEED, resume=True, progress=False, scheduler=LOCAL)
    assert (summary["chunks_written"], summary["chunks_skipped"]) == (0, 8)


def test_refusals(store_path, tmp_path):
    with pytest.raises(MrmlError, match="exists; use --overwrite"):
        write_store(store_path, "deer", n=N, chunk=CHUNK, seed=SEED, progress=False, scheduler=LOCAL)
    with pytest.raises(MrmlError, match=r"seed differs \(store 5, requested 6\)"):
        write_store(store_path, "deer", n=N, chunk=CHUNK, seed=6, resume=True, progress=False, scheduler=LOCAL)
    with pytest.raises(MrmlError, match=r"chunk differs"):
        write_store(store_path, "deer", n=N, chunk=64, seed=SEED, resume=True, progress=False, scheduler=LOCAL)
    with pytest.raises(MrmlError, match=r"config differs: n_points \(store 256, requested 128\)"):
        write_store(store_path, "deer", n=N, chunk=CHUNK, seed=SEED, resume=True,
                    overrides={"n_points": 128}, progress=False, scheduler=LOCAL)
    with pytest.raises(MrmlError, match="unknown setting 'nope'"):
        write_store(tmp_path / "a.zarr", "deer", n=10, overrides={"nope": 1}, progress=False, scheduler=LOCAL)
    with pytest.raises(MrmlError, match="unknown simulator 'dear'; available: deer"):
        write_store(tmp_path / "a.zarr", "dear", n=10, progress=False, scheduler=LOCAL)
    with pytest.raises(MrmlError, match="either overwrite or resume"):
        write_store(tmp_path / "a.zarr", "deer", n=10, overwrite=True, resume=True, progress=False, scheduler=LOCAL)
    # --overwrite never deletes a directory that is not a store
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "precious.txt").write_text("x")
    with pytest.raises(MrmlError, match="not a zarr store"):
        write_store(keep, "deer", n=10, overwrite=True, progress=False, scheduler=LOCAL)
    assert (keep / "precious.txt").exists()


def test_overwrite_replaces(tmp_path):
    path = tmp_path / "o.zarr"
    write_store(path, "deer", n=300, chunk=100, seed=1, progress=False, scheduler=LOCAL)
    summary = write_store(path, "deer", n=200, chunk=50, seed=2, overwrite=True, progress=False, scheduler=LOCAL)
    store = open_store(path)
    assert (summary["n_chunks"], store.n, store.seed, store["x"].shape[0]) == (4, 200, 2, 200)


def test_not_a_store(tmp_path):
    with pytest.raises(InputError, match="no such store"):
        open_store(tmp_path / "missing.zarr")
    with pytest.raises(InputError, match="not an mrml training store"):
        open_store(tmp_path)
    zarr.open_group(str(tmp_path / "plain.zarr"), mode="w", zarr_format=3)
    with pytest.raises(InputError, match="not an mrml training store"):
        status(tmp_path / "plain.zarr")
    with pytest.raises(InputError, match="not an mrml store"):
        write_store(tmp_path / "plain.zarr", "deer", n=10, resume=True, progress=False, scheduler=LOCAL)


def test_default_chunk_and_generator():
    sim = get_simulator("deer")
    assert default_chunk(sim) == 8192  # 16 MiB of complex64 x 256 points
    assert default_chunk(sim, n=1000) == 1000
    assert chunk_rng(3, 4).random() == np.random.default_rng([3, 4]).random()


def test_manifest_is_not_a_data_array(store_path):
    store = open_store(store_path)
    assert MANIFEST not in store.names
    assert store.group[MANIFEST].shape == (8,)
    assert store.done().all()
