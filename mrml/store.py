"""Zarr v3 training stores written chunk by chunk through dask.

Layout
------
``STORE.zarr/`` is a zarr v3 group. Root attributes:

- ``mrml_store_version``; ``simulator``, ``simulator_version`` and the full
  simulator ``config`` (JSON); ``seed``, ``n``, ``chunk``, ``n_chunks``;
- ``arrays``: ``{name: {"shape": per-sample shape, "dtype": dtype}}``;
- ``complete``: ``true`` once every chunk is written (set by the driver at
  the very end of a run).

Data arrays follow :meth:`array_specs` of the simulator: shape
``(n, *per_sample)``, chunked ``(chunk, *per_sample)`` along the sample axis,
compressed with Blosc (lz4, byte shuffle). Names with a slash (``params/mod_depth``) live
in subgroups.

The manifest of done chunks is the array ``manifest/done`` (``n_chunks``
uint8, one zarr chunk per element): the task that writes data chunk *i*
writes element *i* last, after all of the chunk's arrays. Every writer owns
its own marker object, so parallel workers never race on a shared attribute,
and a chunk whose marker is set is complete (zarr's local store writes each
object atomically: temporary file, then rename).

Determinism
-----------
Chunk *i* holds rows ``i * chunk ... min((i + 1) * chunk, n)`` and is made by
``simulator.simulate(rows, numpy.random.default_rng([seed, i]))``. Any chunk
can be regenerated alone (:func:`regenerate_chunk`), workers need nothing but
``(kind, config)``, and a resumed run is bit-identical to an uninterrupted one.

Resuming rather than an atomic rename
-------------------------------------
A run writes in place at ``STORE.zarr`` (no ``.partial`` directory renamed at
the end): an interrupted run leaves a valid store with ``complete = false``
and some chunks done; :func:`status` reports them and ``resume=True`` writes
only the missing ones (a chunk whose arrays were written but whose marker
was not is simply written again; temporary files of a killed writer are
removed first). Readers that need a finished store check ``complete``
(``open_store(path).complete``). Stores are local directories; with a
dask.distributed cluster the path must be on a file system every worker
sees at the same path.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from mrml.errors import InputError, MrmlError

#: Layout version written to ``mrml_store_version``.
STORE_VERSION = 1
#: Target uncompressed size (bytes) of one chunk of the largest array, used by :func:`default_chunk`.
#: 16 MiB (8192 DEER traces): every chunk reads the DEER simulator's ~76 cached kernels (35 MB)
#: once, so larger chunks spread that over more traces. 1M DEER traces into a store on 2 cores
#: (processes): 60,600-63,300 traces/s at 8192, 51,500-57,900 at 4096, 56,300-58,000 at 16384.
TARGET_CHUNK_BYTES = 16 * 2**20
#: Local dask scheduler used when ``scheduler`` is None and ``threadpoolctl`` is
#: installed. Threads: numpy, BLAS and Blosc release the GIL for most of a
#: chunk's work; threads share one kernel cache, start at once and need no
#: ``if __name__ == "__main__"`` guard in the caller's script. Without
#: ``threadpoolctl`` this process's OpenBLAS cannot be made single-threaded,
#: and its spinning threads made a busy 2-core machine ~5x slower, so the
#: default is then ``"processes"`` (spawned workers read ``OPENBLAS_NUM_THREADS=1``).
DEFAULT_SCHEDULER = "threads"
MANIFEST = "manifest/done"
_PARTIAL = re.compile(r"\.[0-9a-f]{32}\.partial$")


# --------------------------------------------------------------------------- helpers
def _compressor():
    from zarr.codecs import BloscCodec

    # lz4 with byte shuffling: 1.33x on noisy DEER chunks at 1.3 GB/s on one core; zstd level 1
    # with bit shuffling packs 1.41x but at 0.2 GB/s, slower than simulating the traces (measured).
    return BloscCodec(cname="lz4", clevel=1, shuffle="shuffle")


def _jsonable(obj: Any) -> Any:
    """Round-trip through JSON (tuples become lists, numpy scalars plain numbers)."""

    def default(o):
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
        raise TypeError(f"config value {o!r} is not JSON-serialisable")

    return json.loads(json.dumps(obj, default=default))


def _specs(simulator) -> dict[str, dict[str, Any]]:
    return {name: {"shape": [int(s) for s in shape], "dtype": str(np.dtype(dtype))}
            for name, (shape, dtype) in simulator.array_specs().items()}


def default_chunk(simulator, *, n: int | None = None) -> int:
    """Traces per chunk so that the largest array's chunk is about :data:`TARGET_CHUNK_BYTES` (16 MiB).

    A power of two in ``[256, 16384]`` (8192 for 256-point complex DEER
    traces), never more than ``n``.

    Parameters
    ----------
    simulator : object
        Anything with ``array_specs()``.
    n : int, optional
        Total traces; caps the result.
    """
    largest = max(int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
                  for shape, dtype in simulator.array_specs().values())
    chunk = 2 ** int(round(math.log2(max(TARGET_CHUNK_BYTES / max(largest, 1), 1))))
    chunk = int(min(max(chunk, 256), 16384))
    return chunk if n is None else max(1, min(chunk, int(n)))


def chunk_rows(i: int, *, n: int, chunk: int) -> slice:
    """Rows of chunk ``i`` along the sample axis."""
    return slice(i * chunk, min((i + 1) * chunk, n))


def chunk_rng(seed: int, i: int) -> np.random.Generator:
    """The generator of chunk ``i``: ``default_rng([seed, i])``."""
    return np.random.default_rng([int(seed), int(i)])


def _make_simulator(kind: str, config=None, overrides=None):
    from simulators import REGISTRY, get_simulator

    if kind not in REGISTRY:
        raise MrmlError(f"unknown simulator {kind!r}; available: {', '.join(sorted(REGISTRY))}")
    try:
        return get_simulator(kind, config, overrides=overrides)
    except KeyError as exc:  # unknown setting: the message names the valid ones
        raise MrmlError(f"{kind}: {exc.args[0] if exc.args else exc}") from None
    except (ValueError, TypeError) as exc:
        raise MrmlError(f"{kind}: invalid setting: {exc}") from None


def _is_zarr_group(path: Path) -> bool:
    meta = path / "zarr.json"
    if not meta.is_file():
        return False
    try:
        return json.loads(meta.read_text()).get("node_type") == "group"
    except (OSError, ValueError):
        return False


def _read_attrs(path: Path) -> dict | None:
    """Root attributes of an mrml store at ``path`` or None if it is not one."""
    if not _is_zarr_group(path):
        return None
    attrs = json.loads((path / "zarr.json").read_text()).get("attributes", {})
    return attrs if "mrml_store_version" in attrs else None


def _remove(path: Path) -> None:
    """Delete an existing output for ``overwrite`` (only stores, zarr groups, files, empty dirs)."""
    if path.is_dir() and not path.is_symlink():
        if any(path.iterdir()) and not _is_zarr_group(path):
            raise MrmlError(f"{path} is a non-empty directory that is not a zarr store; "
                            "refusing to delete it with --overwrite")
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _clean_partials(path: Path) -> None:
    """Remove temporary files left by a killed writer (``<key>.<uuid hex>.partial``)."""
    for p in path.rglob("*.partial"):
        if _PARTIAL.search(p.name) and p.is_file():
            p.unlink(missing_ok=True)


def _ensure_arrays(group, specs: Mapping[str, Mapping[str, Any]], *, n: int, chunk: int, n_chunks: int) -> None:
    if not _has_array(group, MANIFEST):
        group.create_array(MANIFEST, shape=(n_chunks,), chunks=(1,), dtype="uint8",
                           compressors=None, fill_value=0)
    for name, spec in specs.items():
        if _has_array(group, name):
            continue
        shape = tuple(spec["shape"])
        group.create_array(name, shape=(n, *shape), chunks=(chunk, *shape), dtype=spec["dtype"],
                           compressors=_compressor(), fill_value=0)


def _has_array(group, name: str) -> bool:
    try:
        group[name]
    except KeyError:
        return False
    return True


def _mismatch(stored: Mapping[str, Any], wanted: Mapping[str, Any]) -> str | None:
    """First difference between a store's attributes and a requested run, in words."""
    for key in ("mrml_store_version", "simulator", "simulator_version"):
        if stored.get(key) != wanted[key]:
            return f"{key} differs (store {stored.get(key)!r}, requested {wanted[key]!r})"
    s_cfg, w_cfg = stored.get("config") or {}, wanted["config"]
    if s_cfg != w_cfg:
        keys = sorted(k for k in set(s_cfg) | set(w_cfg) if s_cfg.get(k) != w_cfg.get(k))
        parts = [f"{k} (store {s_cfg.get(k)!r}, requested {w_cfg.get(k)!r})" for k in keys]
        return "config differs: " + "; ".join(parts)
    for key in ("seed", "n", "chunk"):
        if stored.get(key) != wanted[key]:
            return f"{key} differs (store {stored.get(key)!r}, requested {wanted[key]!r})"
    return None


# --------------------------------------------------------------------------- creation
def create_or_open_store(path, simulator, *, n: int, chunk: int, seed: int,
                         overwrite: bool = False, resume: bool = False):
    """Create a training store, or open an existing one to resume it.

    Parameters
    ----------
    path : str or os.PathLike
        Local directory of the store (``*.zarr``).
    simulator : object
        A simulator (``name``, ``version``, ``config``, ``array_specs()``).
    n : int
        Number of samples.
    chunk : int
        Samples per chunk (capped at ``n``).
    seed : int
        Non-negative base seed; chunk *i* uses ``default_rng([seed, i])``.
    overwrite : bool, optional
        Replace an existing store (or zarr group, file or empty directory).
    resume : bool, optional
        Reopen an existing store; simulator, version, config, seed, n and chunk
        must match exactly. A missing store is created.

    Returns
    -------
    TrainingStore
        Opened for writing.

    Raises
    ------
    mrml.errors.MrmlError
        The path exists and neither flag is given, both flags are given, or
        the stored run does not match (the message names the difference).
    """
    import zarr

    path = Path(path)
    n, chunk, seed = int(n), int(chunk), int(seed)
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if chunk < 1:
        raise ValueError(f"chunk must be at least 1, got {chunk}")
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    if overwrite and resume:
        raise MrmlError("give either overwrite or resume, not both")
    chunk = min(chunk, n)
    n_chunks = -(-n // chunk)
    specs = _specs(simulator)
    wanted = {
        "mrml_store_version": STORE_VERSION,
        "simulator": simulator.name,
        "simulator_version": str(simulator.version),
        "config": _jsonable(simulator.config),
        "seed": seed,
        "n": n,
        "chunk": chunk,
    }
    exists = path.exists() or path.is_symlink()
    if exists and resume:
        stored = _read_attrs(path)
        if stored is None:
            raise InputError(f"cannot resume {path}: not an mrml store")
        diff = _mismatch(stored, wanted)
        if diff:
            raise MrmlError(f"cannot resume {path}: {diff}")
        _clean_partials(path)
        group = zarr.open_group(str(path), mode="r+", zarr_format=3)
        _ensure_arrays(group, stored.get("arrays", specs), n=n, chunk=chunk, n_chunks=n_chunks)
        return TrainingStore(path, group)
    if exists:
        if not overwrite:
            raise MrmlError(f"{path} exists; use --overwrite to replace it or --resume to finish it")
        _remove(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    from mrml import __version__ as mrml_version

    # all attributes in one metadata write (attrs.update() writes key by key)
    attrs = {**wanted, "n_chunks": n_chunks, "arrays": specs, "complete": False, "mrml_version": mrml_version}
    group = zarr.open_group(str(path), mode="w-", zarr_format=3, attributes=attrs)
    _ensure_arrays(group, specs, n=n, chunk=chunk, n_chunks=n_chunks)
    return TrainingStore(path, group)


# --------------------------------------------------------------------------- reading
@dataclass(frozen=True, eq=False)
class TrainingStore:
    """An opened training store.

    Attributes
    ----------
    path : pathlib.Path
        Store directory.
    group : zarr.Group
        Root group.

    Notes
    -----
    ``store["x"]`` and ``store["params/mod_depth"]`` give the zarr arrays
    (lazy; slice them to read); other keys are root attributes
    (``store["n"]``, ``store["config"]``). :attr:`arrays` lists the data
    arrays (not the manifest).
    """

    path: Path
    group: Any

    @property
    def attrs(self) -> dict:
        """Root attributes (a copy)."""
        return dict(self.group.attrs)

    @property
    def n(self) -> int:
        """Number of samples."""
        return int(self.group.attrs["n"])

    @property
    def chunk(self) -> int:
        """Samples per chunk."""
        return int(self.group.attrs["chunk"])

    @property
    def n_chunks(self) -> int:
        """Number of chunks."""
        return -(-self.n // self.chunk)

    @property
    def seed(self) -> int:
        """Base seed."""
        return int(self.group.attrs["seed"])

    @property
    def simulator(self) -> str:
        """Simulator KIND name."""
        return str(self.group.attrs["simulator"])

    @property
    def config(self) -> dict:
        """Full simulator config."""
        return dict(self.group.attrs["config"])

    @property
    def complete(self) -> bool:
        """True when a run finished every chunk."""
        return bool(self.group.attrs.get("complete", False))

    @property
    def names(self) -> list[str]:
        """Data array names (``x``, ``y``, ``params/...``)."""
        return list(self.group.attrs["arrays"])

    @property
    def arrays(self) -> dict:
        """Data arrays by name (zarr arrays, not loaded)."""
        return {name: self.group[name] for name in self.names}

    def __getitem__(self, name: str):
        """A data array (``"x"``, ``"params/mod_depth"``) or else a root attribute (``"n"``)."""
        if name in self.names:
            return self.group[name]
        attrs = self.group.attrs
        if name in attrs:
            return attrs[name]
        raise KeyError(f"{self.path} has no array or attribute {name!r}; arrays: {', '.join(self.names)}")

    def __contains__(self, name: str) -> bool:
        return name in self.names or name in self.group.attrs

    def rows(self, i: int) -> slice:
        """Sample rows of chunk ``i``."""
        if not 0 <= int(i) < self.n_chunks:
            raise IndexError(f"chunk {i} out of range 0..{self.n_chunks - 1}")
        return chunk_rows(int(i), n=self.n, chunk=self.chunk)

    def done(self) -> np.ndarray:
        """Boolean mask of done chunks, shape (n_chunks,)."""
        if not _has_array(self.group, MANIFEST):  # creation interrupted or still under way
            return np.zeros(self.n_chunks, dtype=bool)
        return np.asarray(self.group[MANIFEST][:], dtype=bool)

    def read_chunk(self, i: int) -> dict[str, np.ndarray]:
        """All arrays of chunk ``i`` (must be done)."""
        sl = self.rows(i)
        if not self.done()[int(i)]:
            raise InputError(f"{self.path}: chunk {i} has not been written")
        return {name: np.asarray(self.group[name][sl]) for name in self.names}

    def simulator_object(self):
        """The simulator rebuilt from the stored kind and config."""
        return _make_simulator(self.simulator, self.config)

    def __repr__(self) -> str:
        return (f"TrainingStore({str(self.path)!r}, simulator={self.simulator!r}, n={self.n}, "
                f"chunk={self.chunk}, complete={self.complete})")


def open_store(path, *, mode: str = "r") -> TrainingStore:
    """Open an existing training store.

    Parameters
    ----------
    path : str or os.PathLike
        Store directory.
    mode : {"r", "r+"}, optional
        Read-only (default) or read-write.

    Returns
    -------
    TrainingStore

    Raises
    ------
    mrml.errors.InputError
        ``path`` does not exist or is not an mrml training store.
    """
    import zarr

    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such store")
    if _read_attrs(path) is None:
        raise InputError(f"{path} is not an mrml training store")
    return TrainingStore(path, zarr.open_group(str(path), mode=mode, zarr_format=3))


def read_chunk(path, i: int) -> dict[str, np.ndarray]:
    """Arrays of chunk ``i`` of the store at ``path``, by name.

    Raises
    ------
    mrml.errors.InputError
        Not a store, or chunk ``i`` not written yet.
    """
    return open_store(path).read_chunk(i)


def regenerate_chunk(path, i: int) -> dict[str, np.ndarray]:
    """Simulate chunk ``i`` of a store again from its attributes alone (no data read)."""
    store = open_store(path)
    sl = store.rows(i)
    return store.simulator_object().simulate(sl.stop - sl.start, chunk_rng(store.seed, i))


def status(path) -> dict[str, Any]:
    """Progress of a store.

    Returns
    -------
    dict
        ``path``, ``simulator``, ``n``, ``chunk``, ``done`` (chunks), ``total``
        (chunks), ``traces_done``, ``missing`` (chunk indices) and ``complete``.
    """
    store = open_store(path)
    done = store.done()
    traces = sum(store.rows(i).stop - store.rows(i).start for i in np.flatnonzero(done))
    return {
        "path": str(store.path),
        "simulator": store.simulator,
        "n": store.n,
        "chunk": store.chunk,
        "done": int(done.sum()),
        "total": int(done.size),
        "traces_done": int(traces),
        "missing": [int(i) for i in np.flatnonzero(~done)],
        "complete": store.complete,
    }


# --------------------------------------------------------------------------- writing
def write_chunk(path, kind: str, config: Mapping[str, Any], *, seed: int, n: int, chunk: int, i: int) -> int:
    """Simulate chunk ``i`` and write it, then its done marker (one dask task).

    Needs nothing but the store path and the simulator's ``(kind, config)``,
    so it runs unchanged on distributed workers (the path must be on a file
    system they share).

    Returns
    -------
    int
        Rows written.
    """
    sl = chunk_rows(i, n=n, chunk=chunk)
    _prepare_worker_process()
    config_json = json.dumps(config, sort_keys=True)
    sim = _cached_simulator(kind, config_json)
    data = sim.simulate(sl.stop - sl.start, chunk_rng(seed, i))
    arrays = _open_arrays(str(path), (kind, config_json, seed, n, chunk), tuple(data))
    _write_together(arrays, sl, data)
    arrays[MANIFEST][i] = 1  # last: the chunk is done only once all its arrays are written
    _freeze_worker_gc()
    return sl.stop - sl.start


def _write_together(arrays: Mapping[str, Any], sl: slice, data: Mapping[str, np.ndarray]) -> None:
    """Write one chunk of every array concurrently in zarr's event loop.

    One synchronous write costs ~0.8 ms even for the 32 KB of a parameter
    array (a round trip to zarr's loop thread); the 15 small DEER arrays took
    13.5 ms a chunk in turn and 7.3 ms together (measured). Falls back to
    writing in turn where zarr's asynchronous array is not reachable.
    """
    try:
        from zarr.core.sync import sync

        targets = [(arrays[name]._async_array, arr) for name, arr in data.items()]
    except (ImportError, AttributeError):
        for name, arr in data.items():
            arrays[name][sl] = arr
        return

    async def write_all():
        await asyncio.gather(*(target.setitem(sl, arr) for target, arr in targets))

    sync(write_all())


_SIMULATORS: dict = {}
_ARRAYS: dict = {}
_WORKER: dict = {}  # this process's state as a dask worker: 'ready', 'gc_frozen'


def _prepare_worker_process() -> None:
    """Once per worker process (not the caller's): reuse freed memory, and exit with the parent.

    - A chunk allocates ~100 MB of large temporaries; glibc maps each with mmap and
      unmaps it on free, so every chunk page-faulted its memory in again: 8 ms of
      system time per 4096 DEER traces, 10 % of the simulation (measured). Raising
      glibc's mmap and trim thresholds keeps the worker's heap at its peak size (a
      few hundred MB) instead; a no-op without glibc.
    - A run killed with SIGKILL left dask's worker processes running, orphaned,
      beside the ``--resume`` run (measured: still alive 20 s later). A daemon
      thread ends the worker once its parent is gone.

    Only in child processes (dask's process pool, dask.distributed workers under
    a nanny); threads and the synchronous scheduler leave the caller's process alone.
    """
    import multiprocessing

    if _WORKER.get("ready") or multiprocessing.parent_process() is None:
        return
    _WORKER["ready"] = True
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 1 << 30)  # M_MMAP_THRESHOLD: no mmap below 1 GiB
        libc.mallopt(-1, 1 << 31)  # M_TRIM_THRESHOLD: keep up to 2 GiB of free heap
    except (OSError, AttributeError):
        pass
    import threading

    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="mrml-exit-with-parent", daemon=True).start()


def _freeze_worker_gc() -> None:
    """In a worker process, after its first chunk: move every object alive then out of the collector's sight.

    By then the libraries are imported and the caches filled; collections no longer
    traverse them (the collector took ~10 % of a chunk's write time, perf profile).
    """
    if _WORKER.get("ready") and not _WORKER.get("gc_frozen"):
        import gc

        gc.freeze()
        _WORKER["gc_frozen"] = True


def _open_arrays(path: str, layout: tuple, names: tuple) -> dict:
    """The store's zarr arrays, opened once per process and layout (opening costs ~0.6 ms per array per chunk).

    A store recreated at the same path with the same ``layout`` (simulator,
    config, seed, n, chunk) has identical array metadata, so cached handles stay valid.
    """
    import zarr

    from mrml.direct_io import DirectLocalStore

    key = (path, layout)
    arrays = _ARRAYS.get(key)
    if arrays is None:
        # A chunk of samples is never all fill value: skip zarr's check for empty chunks, a full
        # comparison pass over every chunk written (6.5 ms of the 10 ms an 8 MB chunk took, measured)
        # Chunks of several MB go past the page cache (mrml.direct_io): its system time was 59 of the ~260 ms
        # of CPU a DEER chunk of 8192 traces cost here, direct I/O's is 17 (measured)
        with zarr.config.set({"array.write_empty_chunks": True}):
            group = zarr.open_group(DirectLocalStore(path), mode="r+", zarr_format=3)
            arrays = {name: group[name] for name in (*names, MANIFEST)}
        if len(_ARRAYS) > 64:
            _ARRAYS.clear()
        _ARRAYS[key] = arrays
    return arrays


def _cached_simulator(kind: str, config_json: str):
    key = (kind, config_json)
    sim = _SIMULATORS.get(key)
    if sim is None:
        sim = _SIMULATORS[key] = _make_simulator(kind, json.loads(config_json))
    return sim


def _have_threadpoolctl() -> bool:
    try:
        import threadpoolctl  # noqa: F401
    except ImportError:
        return False
    return True


#: ``scheduler="auto"`` (the CLI's default) runs this many chunks or more in processes: a process
#: holds no GIL against the other workers (1M DEER traces on 2 cores, chunks of 8192: 54,000-65,000
#: traces/s in processes, 44,500-55,600 in threads), but each spends ~1 s starting and filling its kernel cache.
AUTO_PROCESSES_MIN_CHUNKS = 16


def _local_scheduler(scheduler, *, n_tasks: int = 0, workers: int | None = None) -> str | None:
    """dask's name of a local scheduler, or None for a dask.distributed address or Client."""
    if scheduler == "auto":
        parallel = (workers or os.cpu_count() or 1) > 1
        scheduler = "processes" if parallel and n_tasks >= AUTO_PROCESSES_MIN_CHUNKS else None
    if scheduler is None:
        return DEFAULT_SCHEDULER if _have_threadpoolctl() else "processes"
    if not isinstance(scheduler, str) or "://" in scheduler:
        return None
    name = {"sync": "synchronous", "single-threaded": "synchronous"}.get(scheduler, scheduler)
    if name not in ("threads", "processes", "synchronous"):
        raise ValueError(f"scheduler must be threads, processes, sync or an address like tcp://host:8786, "
                         f"got {scheduler!r}")
    return name


def write_store(path, kind: str, *, n: int, chunk: int | None = None, seed: int = 0,
                overrides: Mapping[str, Any] | None = None, config: Mapping[str, Any] | None = None,
                scheduler=None, workers: int | None = None, resume: bool = False,
                overwrite: bool = False, progress: bool = True) -> dict[str, Any]:
    """Simulate ``n`` samples into a zarr training store, one dask task per chunk.

    Parameters
    ----------
    path : str or os.PathLike
        Output store directory (``*.zarr``).
    kind : str
        Simulator name in ``simulators.REGISTRY``.
    n : int
        Number of samples.
    chunk : int, optional
        Samples per chunk; default :func:`default_chunk` (about 16 MiB for the
        largest array, 8192 DEER traces).
    seed : int, optional
        Base seed (chunk *i* uses ``default_rng([seed, i])``).
    overrides : mapping, optional
        ``--set`` overrides of the simulator defaults.
    config : mapping, optional
        A full simulator config instead (e.g. another store's ``config``).
    scheduler : str or distributed.Client, optional
        ``"threads"``, ``"processes"`` or ``"sync"`` for the local dask
        schedulers (default: threads, or processes when ``threadpoolctl`` is
        not installed, see :data:`DEFAULT_SCHEDULER`); ``"auto"``: processes
        from :data:`AUTO_PROCESSES_MIN_CHUNKS` chunks on (the caller's script
        needs an ``if __name__ == "__main__"`` guard), else the default; an address such as ``"tcp://host:8786"`` (or a
        ``distributed.Client``) runs the tasks on that dask.distributed cluster.
    workers : int, optional
        Worker threads/processes of the local schedulers (default: CPU count).
    resume : bool, optional
        Finish an interrupted store: write only chunks without a done marker.
    overwrite : bool, optional
        Replace an existing store.
    progress : bool, optional
        Progress bar on stderr.

    Returns
    -------
    dict
        ``path``, ``simulator``, ``n``, ``chunk``, ``n_chunks``,
        ``chunks_written``, ``chunks_skipped``, ``traces_written``,
        ``seconds``, ``traces_per_s``, ``complete``, ``scheduler``.
    """
    import dask
    from tqdm.auto import tqdm

    if overrides and config is not None:
        raise ValueError("give overrides or config, not both")
    local = _local_scheduler(scheduler)  # validates before any work; "auto" is decided below
    t0 = time.perf_counter()
    sim = _make_simulator(kind, config, overrides)
    if chunk is None:
        chunk = default_chunk(sim, n=n)
    store = create_or_open_store(path, sim, n=n, chunk=chunk, seed=seed, overwrite=overwrite, resume=resume)
    n, chunk, n_chunks = store.n, store.chunk, store.n_chunks
    todo = [int(i) for i in np.flatnonzero(~store.done())]
    if scheduler == "auto":
        local = _local_scheduler("auto", n_tasks=len(todo), workers=workers)
    prefix = f"mrml-chunk-{uuid.uuid4().hex[:12]}-"
    task = dask.delayed(write_chunk, pure=False)
    where = os.path.abspath(store.path)  # workers may run elsewhere on a shared file system
    tasks = [task(where, kind, store.config, seed=int(seed), n=n, chunk=chunk, i=i, dask_key_name=f"{prefix}{i}")
             for i in todo]
    rows = sum(min(chunk, n - i * chunk) for i in todo)
    bar = tqdm(total=rows, unit="trace", unit_scale=True, desc=f"simulate {kind}",
               disable=not progress or not tasks, dynamic_ncols=True)
    try:
        if tasks and local is None:
            _run_distributed(tasks, scheduler, bar)
        elif tasks:
            kwargs = {"num_workers": workers} if workers and local != "synchronous" else {}
            with _progress_callback(bar, prefix), _one_blas_thread():
                dask.compute(*tasks, scheduler=local, **kwargs)
    finally:
        bar.close()
    done = store.done()
    complete = bool(done.all())
    if complete and not store.complete:
        store.group.update_attributes({"complete": True})
    seconds = time.perf_counter() - t0
    return {
        "path": str(store.path),
        "simulator": kind,
        "n": n,
        "chunk": chunk,
        "n_chunks": n_chunks,
        "chunks_written": len(todo),
        "chunks_skipped": n_chunks - len(todo),
        "traces_written": int(rows),
        "seconds": round(seconds, 3),
        "traces_per_s": round(rows / seconds, 1),
        "complete": complete,
        "scheduler": local or (scheduler if isinstance(scheduler, str) else "distributed"),
    }


def _run_distributed(tasks, scheduler, bar) -> None:
    from distributed import Client, as_completed

    own = isinstance(scheduler, str)
    client = Client(scheduler, set_as_default=False) if own else scheduler
    try:
        futures = client.compute(tasks)
        for fut in as_completed(futures, loop=client.loop):
            bar.update(fut.result())
    finally:
        if own:
            client.close()


_BLAS_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@contextlib.contextmanager
def _one_blas_thread():
    """Single-threaded BLAS while chunks run in parallel (restored afterwards).

    Parallelism comes from running chunks side by side; a multithreaded BLAS
    inside every chunk only oversubscribes the cores (OpenBLAS threads spin,
    which made a loaded 2-core machine ~10x slower). Spawned worker processes
    read the environment variables; this process is limited through
    ``threadpoolctl`` when it is installed. dask.distributed workers already
    start with these variables set to 1.
    """
    saved = {k: os.environ.get(k) for k in _BLAS_ENV}
    os.environ.update({k: "1" for k in _BLAS_ENV})
    try:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # optional: without it only spawned processes are limited
            limiter = contextlib.nullcontext()
        else:
            limiter = threadpool_limits(limits=1, user_api="blas")
        with limiter:
            yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _progress_callback(bar, prefix: str):
    """Dask local-scheduler callback advancing ``bar`` by the rows of each finished chunk task."""
    from dask.callbacks import Callback

    class ChunkProgress(Callback):
        def _posttask(self, key, result, dsk, state, worker_id):
            if isinstance(key, str) and key.startswith(prefix):
                bar.update(int(result))

    return ChunkProgress()


__all__ = [
    "STORE_VERSION",
    "TrainingStore",
    "chunk_rng",
    "chunk_rows",
    "create_or_open_store",
    "default_chunk",
    "open_store",
    "read_chunk",
    "regenerate_chunk",
    "status",
    "write_chunk",
    "write_store",
]
