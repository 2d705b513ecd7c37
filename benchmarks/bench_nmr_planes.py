"""Throughput of whole-spectrum simulation (`mrml simulate hsqc`): planes/s, simulated and into a store.

Baseline in the same process: the naive record, two complex128 syntheses per
plane (clean, then noisy with phase errors, as ``simulators.nmr.fid.synthesise``
makes them), instead of one synthesis with the phase errors mixed into the
clean data (``simulators.nmr.spectra.phase_errors``).

Usage::

    python benchmarks/bench_nmr_planes.py [--n 200] [--sizes 128 512] [--workers 1]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np


def main(argv=None):
    from mrml.store import write_store
    from simulators import get_simulator
    from simulators.nmr import peaks as P
    from simulators.nmr.fid import synthesise

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--sizes", type=int, nargs=2, default=[128, 512])
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args(argv)
    overrides = {"sizes": list(args.sizes)}
    sim = get_simulator("hsqc", overrides=overrides)
    sim.simulate(2, np.random.default_rng(0))  # warm up
    t0 = time.perf_counter()
    sim.simulate(args.n, np.random.default_rng(1))
    fast = args.n / (time.perf_counter() - t0)

    rng = np.random.default_rng(2)
    t0 = time.perf_counter()
    for _ in range(args.n):
        seq = P.random_sequence(int(rng.integers(40, 251)), rng)
        peaks = P.peak_list("hsqc", seq, P.backbone_shifts(seq, rng), rng)
        synthesise(peaks, sim.dims, rng)
        synthesise(peaks, sim.dims, rng, noise_sd=0.05, phase_rad=np.deg2rad(rng.uniform(-10, 10, 2)))
    naive = args.n / (time.perf_counter() - t0)

    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        write_store(f"{d}/s.zarr", "hsqc", n=args.n, chunk=16, overrides=overrides, workers=args.workers,
                    progress=False)
        stored = args.n / (time.perf_counter() - t0)
    print(f"hsqc {args.sizes[0]} x {args.sizes[1]} complex points, {args.n} planes, {args.workers} worker(s):")
    print(f"  simulate: {fast:.1f} planes/s; naive two-synthesis record: {naive:.1f} planes/s; "
          f"ratio {fast / naive:.2f}x")
    print(f"  into a zarr store (noisy + clean, chunk 16): {stored:.1f} planes/s")


if __name__ == "__main__":
    main()
