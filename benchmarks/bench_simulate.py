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
    from mrml.store import chunk_rng
    from simulators import get_simulator

    sim = get_simulator("deer")
    for i in range(first, first + count):
        sim.simulate(chunk, chunk_rng(0, i))
    return count * chunk


def bench_simulate_only(n: int, *, chunk: int = 4096, workers: int | None = None) -> dict:
    """The same chunks simulated in worker processes and thrown away: the ceiling a store could reach."""
    from concurrent.futures import ProcessPoolExecutor

    workers = workers or os.cpu_count() or 1
    per = max(1, n // chunk // workers)
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_simulate_chunks, range(workers), [1] * workers, [chunk] * workers))  # start-up, caches
        t0 = time.perf_counter()
        done = sum(pool.map(_simulate_chunks, [w * per for w in range(workers)], [per] * workers, [chunk] * workers))
        seconds = time.perf_counter() - t0
    return {"n": done, "workers": workers, "seconds": round(seconds, 3), "traces_per_s": round(done / seconds, 1)}


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
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

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
