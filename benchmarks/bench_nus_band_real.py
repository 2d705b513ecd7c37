"""Coverage of the network's calibrated 95 % band on retrospective NUS of real spectra.

The band (ensemble SD x the scale calibrated on simulated columns) is compared
with the spectrum of the fully sampled real data, processed without a window
(zero fill x2, FT, the indirect phase of ``bench_nus_real.load``, real part).
That reference carries the noise of the points that were not sampled, which no
reconstruction can know, so coverage over all points is a lower bound; points
above 8 noise SD ("strong") are where the band matters most.

Usage::

    python benchmarks/bench_nus_band_real.py [--model nusnet]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_nus_real import load  # noqa: E402


def main(argv=None):
    from mrml.models import load_card
    from mrml.stages import nus_net
    from mrml.stages.nus import indirect_spectrum
    from mrml.train_nus import band_scale
    from simulators.nmr.schedules import poisson_gap

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="nusnet")
    ap.add_argument("--fractions", type=float, nargs="+", default=[0.125, 0.25, 0.375])
    args = ap.parse_args(argv)
    print(f"Command: `python benchmarks/bench_nus_band_real.py {' '.join(sys.argv[1:] if argv is None else argv)}`\n")
    print("| data | sampling | coverage, all points | coverage, points > 8 noise SD |\n|---|---|---:|---:|")
    for name in ("hsqc", "methyl"):
        _dic, plane, p0, _edge = load(name)
        n = plane.shape[0] // 2
        td = plane[0::2].astype(np.float64) + 1j * plane[1::2]
        z = band_scale(load_card(args.model)["calibration"], n)

        def spectrum(fid):
            return indirect_spectrum(fid, phase_deg=p0, window=False, shift=False)

        ref = spectrum(td)
        strong = np.abs(ref) > 8 * 1.4826 * np.median(np.abs(ref))
        for frac in args.fractions:
            s = poisson_gap(n, int(round(frac * n)), rng=np.random.default_rng([0, int(frac * 1000)]))
            m = nus_net.members(td[s], s, n, phase_deg=p0, model=args.model)
            half = nus_net.spectral_sd(m, z=z, phase_deg=p0)
            inside = np.abs(spectrum(m.mean(0)) - ref) <= half
            print(f"| {name} | {frac:.1%} | {inside.mean():.3f} | {inside[strong].mean():.3f} |")


if __name__ == "__main__":
    main()
