"""Coverage of the network's calibrated 95 % band on retrospective NUS of real spectra.

The band (the error SD, ensemble spread or learned, x the scale calibrated on simulated columns) is compared
with the spectrum of the fully sampled real data, processed without a window
(zero fill x2, FT, the indirect phase of ``bench_nus_real.load``, real part).
That reference carries the noise of the points that were not sampled, which no
reconstruction can know, so coverage over all points is a lower bound; points
above 8 noise SD ("strong") are where the band matters most. Three scales are compared on
the same reconstructions: the one calibrated for the record length alone, the one for
the length and the sampling fraction (cards with ``z_by_points_fraction``), and that one
times each column's SNR factor, as ``mrml reconstruct`` applies it (cards with
``snr_factor_by_fraction``); the mean band width is given relative to the first. With several
``--schedules`` the figures are means (and SDs) over Poisson-gap schedules of seeds 0, 1, ...

Usage::

    python benchmarks/bench_nus_band_real.py [--model nusnet] [--schedules 1]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_nus_real import load, mean_sd  # noqa: E402


def main(argv=None):
    from mrml.models import load_card
    from mrml.stages import nus_net
    from mrml.stages.nus import indirect_spectrum
    from mrml.calibration import snr_factor
    from mrml.train_nus import band_scale, column_snr
    from simulators.nmr.schedules import poisson_gap

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="nusnet")
    ap.add_argument("--fractions", type=float, nargs="+", default=[0.125, 0.25, 0.375])
    ap.add_argument("--schedules", type=int, default=1)
    args = ap.parse_args(argv)
    calib = load_card(args.model)["calibration"]
    print(f"Command: `python benchmarks/bench_nus_band_real.py {' '.join(sys.argv[1:] if argv is None else argv)}`\n")
    print("| data | sampling | scale | z | coverage, all points | coverage, points > 8 noise SD | mean width |\n"
          "|---|---|---|---:|---:|---:|---:|")

    for name in ("hsqc", "methyl"):
        _dic, plane, p0, _edge = load(name)
        n = plane.shape[0] // 2
        td = plane[0::2].astype(np.float64) + 1j * plane[1::2]

        def spectrum(fid):
            return indirect_spectrum(fid, phase_deg=p0, window=False, shift=False)

        ref = spectrum(td)
        strong = np.abs(ref) > 8 * 1.4826 * np.median(np.abs(ref))
        for frac in args.fractions:
            fraction = round(frac * n) / n
            scales = {"length": band_scale({k: v for k, v in calib.items() if k != "z_by_points_fraction"}, n),
                      "length and fraction": band_scale(calib, n, fraction=fraction),
                      "length, fraction and column SNR": band_scale(calib, n, fraction=fraction)}
            cov = {k: ([], [], []) for k in scales}
            for seed in range(args.schedules):
                s = poisson_gap(n, int(round(frac * n)), rng=np.random.default_rng([seed, int(frac * 1000)]))
                m, sig = nus_net.members(td[s], s, n, phase_deg=p0, model=args.model, return_sigma=True)
                mean = spectrum(m.mean(0))
                err = np.abs(mean - ref)
                sd = nus_net.spectral_sd(m, phase_deg=p0, sigmas=sig)
                width0 = scales["length"] * sd.mean()
                for k, z in scales.items():
                    if k.endswith("SNR"):
                        z = z * snr_factor(calib, fraction, column_snr(mean))
                    inside = err <= z * sd
                    cov[k][0].append(inside.mean())
                    cov[k][1].append(inside[strong].mean())
                    cov[k][2].append(np.mean(z * sd) / width0)
            for k, z in scales.items():
                cells = " | ".join(mean_sd(v) for v in cov[k])
                print(f"| {name} | {frac:.1%} | {k} | {z:.2f} | {cells} |", flush=True)


if __name__ == "__main__":
    main()
