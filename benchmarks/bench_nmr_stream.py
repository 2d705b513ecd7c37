"""Streaming a realistic 3D HNCA into zarr: throughput (GB/s) and peak memory vs the spectrum's size.

Each size runs in a fresh subprocess so its peak resident memory (ru_maxrss) is its own.
Baseline in the same run: the whole data set synthesised in memory at once
(``simulators.nmr.fid.synthesise``), for the sizes where that fits.

Usage::

    python benchmarks/bench_nmr_stream.py [--sizes 16 32 64] [--n2 48] [--n3 512]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, resource, sys, tempfile, time, numpy as np
mode, n1, n2, n3 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
dims = [dict(label="13C", n_complex=n1, sw_hz=4500.0, obs_mhz=150.9, car_ppm=54.0),
        dict(label="15N", n_complex=n2, sw_hz=2000.0, obs_mhz=60.8, car_ppm=118.0),
        dict(label="1H", n_complex=n3, sw_hz=8000.0, obs_mhz=600.1, car_ppm=4.7)]
t0 = time.perf_counter()
if mode == "stream":
    from mrml.spectrum_store import write_spectrum
    with tempfile.TemporaryDirectory() as d:
        info = write_spectrum(d + "/s.zarr", n_residues=150, dims=dims, noise_sd=0.01, planes_per_block=8)
else:
    from mrml.spectrum_store import _dims, _peaks
    from simulators.nmr.fid import synthesise
    data = synthesise(_peaks("hnca", 150, 0), _dims("hnca", dims), np.random.default_rng(0), noise_sd=0.01)
    info = {"bytes": int(data.nbytes)}
seconds = time.perf_counter() - t0
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"mode": mode, "n1": n1, "bytes": info["bytes"], "seconds": seconds, "peak_mb": peak_mb}))
"""


def run(mode, n1, n2, n3):
    out = subprocess.run([sys.executable, "-c", CHILD, mode, str(n1), str(n2), str(n3)], capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[16, 32, 64], help="complex 13C points")
    ap.add_argument("--n2", type=int, default=48, help="complex 15N points")
    ap.add_argument("--n3", type=int, default=512, help="complex 1H points")
    ap.add_argument("--in-memory-max", type=int, default=32, help="largest 13C size for the in-memory baseline")
    args = ap.parse_args(argv)
    print("| 13C x 15N x 1H (complex) | data GB | streamed s | GB/s | peak MB | in-memory s | in-memory peak MB |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for n1 in args.sizes:
        s = run("stream", n1, args.n2, args.n3)
        m = run("memory", n1, args.n2, args.n3) if n1 <= args.in_memory_max else None
        print(f"| {n1} x {args.n2} x {args.n3} | {s['bytes'] / 1e9:.2f} | {s['seconds']:.1f} | "
              f"{s['bytes'] / s['seconds'] / 1e9:.3f} | {s['peak_mb']:.0f} | "
              f"{m['seconds']:.1f} | {m['peak_mb']:.0f} |" if m else
              f"| {n1} x {args.n2} x {args.n3} | {s['bytes'] / 1e9:.2f} | {s['seconds']:.1f} | "
              f"{s['bytes'] / s['seconds'] / 1e9:.3f} | {s['peak_mb']:.0f} | - | - |", flush=True)


if __name__ == "__main__":
    main()
