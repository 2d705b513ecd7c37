"""Throughput of ``mrml simulate``: chunked dask writes vs a naive per-trace loop.

(a) ``write_store``: N DEER traces of 256 points into a compressed zarr v3
    store, one dask task per chunk (local scheduler).
(b) The ceiling: the same chunks simulated in worker processes and not
    stored (warm: start-up and caches excluded).
(c) Baseline: the simulator called one trace at a time (``simulate(1, rng)``)
    and each trace copied into preallocated numpy arrays (no compression, no
    disk); its rate is measured on a few thousand traces and extrapolated.

(a) and (c) exclude nothing but process start-up: each warms the simulator's
kernel cache first (``write_store`` pays it inside its timing).

Usage::

    python benchmarks/bench_simulate.py [--n 200000] [--baseline-n 3000] [--scheduler threads|processes]
        [--chunk C] [--store-clean] [--dir FOLDER]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import numpy as np


def bench_store(n: int, *, scheduler: str | None, chunk: int | None, workers: int | None,
                overrides: dict | None = None, where: str | None = None) -> dict:
    from mrml.store import write_store

    with tempfile.TemporaryDirectory(dir=where) as tmp:
        path = os.path.join(tmp, "bench.zarr")
        summary = write_store(path, "deer", n=n, chunk=chunk, seed=0, scheduler=scheduler, workers=workers,
                              overrides=overrides, progress=False)
        size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)
    summary["store_mb"] = round(size / 2**20, 1)
    return summary


def _simulate_chunks(first: int, count: int, chunk: int) -> int:
    from mrml.store import _prepare_worker_process, chunk_rng
    from simulators import get_simulator

    _prepare_worker_process()  # as in a dask worker process (freed memory kept)
    sim = get_simulator("deer")
    for i in range(first, first + count):
        sim.simulate(chunk, chunk_rng(0, i))
    return count * chunk


def bench_simulate_only(n: int, *, chunk: int = 4096, workers: int | None = None) -> dict:
    """The same chunks simulated in worker processes and thrown away: the ceiling a store could reach."""
    from concurrent.futures import ProcessPoolExecutor

    from mrml.store import _one_blas_thread

    workers = workers or os.cpu_count() or 1
    per = max(1, n // chunk // workers)
    with _one_blas_thread(), ProcessPoolExecutor(workers) as pool:  # as write_store's workers
        list(pool.map(_simulate_chunks, range(workers), [1] * workers, [chunk] * workers))  # start-up, caches
        t0 = time.perf_counter()
        done = sum(pool.map(_simulate_chunks, [w * per for w in range(workers)], [per] * workers, [chunk] * workers))
        seconds = time.perf_counter() - t0
    return {"n": done, "workers": workers, "seconds": round(seconds, 3), "traces_per_s": round(done / seconds, 1)}


def _attribute_child(path: str, n: int, chunk: int, queue) -> None:
    import resource

    import mrml.store as ms

    ms._prepare_worker_process()  # as in a dask worker process
    store = ms.open_store(path)
    config_json = json.dumps(store.config, sort_keys=True)
    sim = ms._cached_simulator("deer", config_json)
    sim.simulate(chunk, ms.chunk_rng(0, 10**6))  # kernel cache
    ms._freeze_worker_gc()  # as a dask worker does after its first chunk
    totals = {"simulate": np.zeros(3), "write": np.zeros(3)}
    for i in range(n // chunk):
        r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        data = sim.simulate(chunk, ms.chunk_rng(0, i))
        r1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        arrays = ms._open_arrays(path, ("deer", config_json, 0, n, chunk), tuple(data))
        ms._write_together(arrays, ms.chunk_rows(i, n=n, chunk=chunk), data)
        r2, t2 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        for key, a, b, wall in (("simulate", r0, r1, t1 - t0), ("write", r1, r2, t2 - t1)):
            totals[key] += (b.ru_utime - a.ru_utime, b.ru_stime - a.ru_stime, wall)
    queue.put({k: [round(float(x) / (n // chunk) * 1e3, 1) for x in v] for k, v in totals.items()})


def bench_attribute(*, chunk: int, n_chunks: int = 16, where: str | None = None) -> dict:
    """Per chunk, in one worker process: user, system and wall ms of simulating and of writing."""
    import multiprocessing

    from mrml.store import _one_blas_thread, create_or_open_store
    from simulators import get_simulator

    n = chunk * n_chunks
    with tempfile.TemporaryDirectory(dir=where) as tmp:
        path = os.path.join(tmp, "attr.zarr")
        create_or_open_store(path, get_simulator("deer"), n=n, chunk=chunk, seed=0)
        ctx = multiprocessing.get_context("spawn")
        queue = ctx.Queue()
        proc = ctx.Process(target=_attribute_child, args=(path, n, chunk, queue))
        with _one_blas_thread():  # as write_store's workers: a 2-thread BLAS spins, doubling user time
            proc.start()
        result = queue.get()
        proc.join()
    return {"chunk": chunk, "n_chunks": n_chunks, **result}


def bench_per_trace(n: int) -> dict:
    from simulators import get_simulator

    sim = get_simulator("deer")
    sim.simulate(1, np.random.default_rng(0))  # kernel cache
    specs = sim.array_specs()
    out = {name: np.empty((n, *shape), dtype=dtype) for name, (shape, dtype) in specs.items()}
    t0 = time.perf_counter()
    for i in range(n):
        one = sim.simulate(1, np.random.default_rng([0, i]))
        for name, arr in one.items():
            out[name][i] = arr[0]
    seconds = time.perf_counter() - t0
    return {"n": n, "seconds": round(seconds, 3), "traces_per_s": round(n / seconds, 1)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--baseline-n", type=int, default=3000)
    ap.add_argument("--scheduler", default=None, help="threads (default), processes, sync or tcp://...")
    ap.add_argument("--chunk", type=int, default=None)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--store-clean", action="store_true",
                    help="also store the noise-free traces (--set clean=true; 1 KB more per trace)")
    ap.add_argument("--dir", default=None, help="folder for the temporary store (default: the system's temp folder)")
    ap.add_argument("--attribute", action="store_true",
                    help="only: per chunk, the user/system/wall ms of simulating and of writing in one worker process")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.attribute:
        from mrml.store import default_chunk
        from simulators import get_simulator

        att = bench_attribute(chunk=args.chunk or default_chunk(get_simulator("deer")), where=args.dir)
        print(json.dumps(att) if args.json else
              f"per chunk of {att['chunk']} traces, one worker process, [user, system, wall] ms: "
              f"simulate {att['simulate']}, write {att['write']}")
        return

    store = bench_store(args.n, scheduler=args.scheduler, chunk=args.chunk, workers=args.workers,
                        overrides={"clean": True} if args.store_clean else None, where=args.dir)
    only = bench_simulate_only(min(args.n, 262144), chunk=store["chunk"], workers=args.workers)
    base = bench_per_trace(args.baseline_n)
    ratio = store["traces_per_s"] / base["traces_per_s"]
    result = {"cpus": os.cpu_count(), "store": store, "simulate_only": only, "per_trace_loop": base,
              "speedup": round(ratio, 1)}
    if args.json:
        print(json.dumps(result))
        return
    print(f"write_store ({store['scheduler']}, chunk {store['chunk']}): {store['n']} traces in "
          f"{store['seconds']:.1f} s = {store['traces_per_s']:.0f} traces/s, store {store['store_mb']} MiB")
    print(f"simulation alone ({only['workers']} processes, no store, warm): {only['n']} traces in "
          f"{only['seconds']:.1f} s = {only['traces_per_s']:.0f} traces/s")
    print(f"per-trace loop: {base['n']} traces in {base['seconds']:.1f} s = {base['traces_per_s']:.0f} traces/s "
          f"(extrapolated {args.n / base['traces_per_s']:.0f} s for {args.n})")
    print(f"speed-up: {ratio:.1f}x  ({os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
