"""NUS reconstruction on held-out simulated HSQC planes: network vs IST vs zero filling.

Planes come from ``simulators.nmr.spectra`` (``hsqc``: random proteins of 40-250
residues, noise, phase errors, residual water, baseline offset) with a seed the
network never saw. The direct 1H dimension is Fourier transformed (zero fill x2,
real part) and the amide region (5.5-11 ppm) extracted, as for the real HSQC
(the residual water line lies outside it); the 15N time domain is then subsampled with seeded Poisson-gap
schedules, reconstructed, and processed like the fully sampled plane (sine
bell, zero fill x2, FT, real part). Metrics against the fully sampled
spectrum as in ``bench_nus_real.py``: normalised RMSD, Pearson r of the heights
of the reference peaks, artefact peaks, median height error, seconds per plane.

Usage::

    python benchmarks/bench_nus_sim.py [--model nusnet] [--planes 8] [--seed 777] [--markdown OUT.md]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_nus_real import local_maxima, score  # noqa: E402


def direct_ft(fid_plane):
    """(2 n1, n2) complex time domain -> (2 n1, 2 n2) real: direct dimension transformed, real part."""
    f = np.array(fid_plane, dtype=np.complex128)
    f[:, 0] *= 0.5
    return np.fft.fftshift(np.fft.fft(f, n=2 * f.shape[1], axis=1), axes=1).real


def main(argv=None):
    from mrml.stages import nus_net
    from mrml.stages.nus import indirect_spectrum
    from mrml.stages.nus_ist import ist
    from simulators import get_simulator
    from simulators.nmr.schedules import poisson_gap

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="nusnet")
    ap.add_argument("--planes", type=int, default=8)
    ap.add_argument("--n-indirect", type=int, default=128)
    ap.add_argument("--n-direct", type=int, default=256)
    ap.add_argument("--fractions", type=float, nargs="+", default=[0.125, 0.25, 0.375])
    ap.add_argument("--seed", type=int, default=777)
    ap.add_argument("--markdown", metavar="OUT.md")
    args = ap.parse_args(argv)
    sim = get_simulator("hsqc", overrides={"sizes": [args.n_indirect, args.n_direct]})
    planes = sim.simulate(args.planes, np.random.default_rng([args.seed, 5]))["fid"]
    methods = {
        "ist (200 iterations)": lambda y, s, n: ist(y, s, n, n_iter=200),
        "net": lambda y, s, n: nus_net.members(y, s, n, phase_deg=0.0, model=args.model).mean(0),
    }
    nus_net.members(np.ones((4, 1)), np.arange(4), 8, phase_deg=0.0, model=args.model)  # load once, untimed
    rows = {}
    h = sim.dims[-1]
    ppm = h.car_ppm + (np.arange(2 * h.n_complex) - h.n_complex) / (2 * h.n_complex) * h.sw_hz / h.obs_mhz
    amide = (ppm >= 5.5) & (ppm <= 11.0)
    for p, fid in enumerate(planes):
        plane = direct_ft(fid)[:, amide]
        n = plane.shape[0] // 2
        td = plane[0::2] + 1j * plane[1::2]
        ref = indirect_spectrum(td)
        noise = 1.4826 * np.median(np.abs(ref - np.median(ref)))
        threshold = 8 * noise
        peaks = local_maxima(ref, threshold)
        if len(peaks) < 3:
            continue
        for frac in args.fractions:
            sched = poisson_gap(n, int(round(frac * n)), rng=np.random.default_rng([args.seed, p, int(frac * 1000)]))
            for name, fn in methods.items():
                start = time.perf_counter()
                rec = fn(td[sched], sched, n)
                seconds = time.perf_counter() - start
                s = score(indirect_spectrum(rec), ref, peaks, threshold)
                rows.setdefault((frac, name), []).append({**s, "seconds": seconds})
    lines = [f"Held-out simulated HSQC planes ({args.planes} planes, {args.n_indirect} complex 15N x "
             f"{args.n_direct} complex 1H points, seed {args.seed}), model `{args.model}`. "
             f"Command: `python benchmarks/bench_nus_sim.py {' '.join(sys.argv[1:] if argv is None else argv)}`",
             "",
             "| sampling | method | NRMSD | peak-height r | artefact peaks / plane | median height error | s/plane |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for (frac, name), rs in rows.items():
        m = {k: float(np.mean([r[k] for r in rs])) for k in rs[0]}
        lines.append(f"| {frac:.1%} | {name} | {m['nrmsd']:.3f} | {m['peak_corr']:.3f} | {m['artefact_peaks']:.1f} | "
                     f"{m['median_height_error']:.1%} | {m['seconds']:.3f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text)


if __name__ == "__main__":
    main()
