"""3D NUS on a simulated HNCA of realistic size: the ``nusnet3d`` network vs 2D IST (200 iterations).

A 600 MHz HNCA of a random ``--residues``-residue protein (13C 64 x 15N 48
complex indirect points, 1H 512 complex points; Ca(i) and weaker Ca(i-1) peaks,
13Ca-13Cb couplings, size-dependent relaxation) is simulated with noise set so
that the median peak of the fully sampled spectrum stands ``--snr`` noise SDs
high, and its direct dimension is processed (FT, imaginaries deleted) as NMRPipe
would. For each sampling fraction a seeded 2D Poisson-gap schedule keeps that
share of the (13C, 15N) pairs, as NMRPipe's ``nusExpand.tcl`` lays them out; each
method reconstructs both indirect dimensions through :func:`mrml.stages.nus3d.reconstruct_3d`
(both on all CPUs: torch threads for the network, a thread pool over columns for IST),
then the cube is processed in both indirect dimensions as a user would (cosine bell, zero
fill x2, FT); the band's coverage is checked on the spectrum it describes (no window).

Metrics against the fully sampled noisy spectrum (as a user would compare) and the
noise-free one: normalised RMSD, Pearson correlation and median error of peak
heights at the reference peaks (3x3x3 local maxima of the noise-free spectrum
above 8 noise SD), artefact peaks (local maxima of the reconstruction above that
level further than 2 points from any reference peak, the 2D benchmarks' rule) and
spurious peaks (local maxima above that level where the noise-free spectrum is
below half of it: the distance rule also counts real truncation side lobes and
weak peaks just under the level, which a good reconstruction reproduces), wall
time; for the network also the coverage of the noise-free spectrum by its 95 % band, over all
points and where it exceeds 8 noise SD, the same without the band's SNR factor (the session-8 band),
and the mean width of the shipped band over that one's.

Usage::

    python benchmarks/bench_nus_3d.py [--fractions 0.125 0.25 0.375] [--columns 512] [--model NAME_OR_DIR ...]
        [--markdown OUT.md]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_nus_real import local_maxima  # noqa: E402


def simulate(*, residues: int, snr: float, columns: int, seed: int):
    """Header, noisy and clean direct-processed cubes (2 n1, 2 n2, columns) and the noise SD of the processed cube."""
    from mrml.stages.nus3d import process_indirect
    from simulators.nmr import peaks as P
    from simulators.nmr.fid import default_dimensions, direct_processed

    rng = np.random.default_rng([seed, 0])
    dims = default_dimensions("hnca")
    seq = P.random_sequence(residues, rng)
    peaks = P.peak_list("hnca", seq, P.backbone_shifts(seq, rng), rng)
    dic, clean = direct_processed(peaks, dims, rng)
    _, unit = direct_processed(dataclasses.replace(peaks, intensity=peaks.intensity * 0.0), dims,
                               np.random.default_rng([seed, 1]), noise_sd=1.0)
    ref_clean = process_indirect(clean, window=True)
    unit_sd = float(np.std(process_indirect(unit, window=True)))
    thresh = 0.05 * np.abs(ref_clean).max()
    heights = ref_clean[tuple(local_maxima(ref_clean, thresh).T)]
    noise_sd = float(np.median(heights)) / snr / unit_sd  # time-domain SD that gives the requested SNR
    noisy = clean + noise_sd * unit
    # keep the amide-proton columns that carry peaks (a user extracts this region before reconstruction)
    cols = np.argsort(np.abs(ref_clean).max(axis=(0, 1)))[::-1][:columns]
    cols = np.sort(cols)
    dic = {**dic, "FDSIZE": float(len(cols)), "FDPIPEFLAG": 1.0}
    return dic, noisy[..., cols], clean[..., cols], noise_sd * unit_sd


def score(rec, ref, ref_peaks, threshold, truth):
    nrmsd = float(np.linalg.norm(rec - ref) / np.linalg.norm(ref))
    h_ref, h_rec = ref[tuple(ref_peaks.T)], rec[tuple(ref_peaks.T)]
    found = local_maxima(rec, threshold)
    artefacts = spurious = 0
    if len(found):
        d = np.abs(found[:, None, :] - ref_peaks[None, :, :]).max(-1).min(1)
        artefacts = int(np.sum(d > 2))
        spurious = int(np.sum(truth[tuple(found.T)] < 0.5 * threshold))
    return {"nrmsd": nrmsd, "peak_corr": float(np.corrcoef(h_ref, h_rec)[0, 1]), "artefact_peaks": artefacts,
            "spurious_peaks": spurious, "median_height_error": float(np.median(np.abs(h_rec - h_ref) / np.abs(h_ref)))}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fractions", type=float, nargs="+", default=[0.125, 0.25, 0.375])
    ap.add_argument("--columns", type=int, default=512, help="direct-dimension points reconstructed")
    ap.add_argument("--residues", type=int, default=120)
    ap.add_argument("--snr", type=float, default=30.0, help="median peak height / noise SD of the full spectrum")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model", nargs="+", default=["nusnet3d"],
                    help="networks (shipped names or `mrml train nusnet3d` folders), each timed against the same IST")
    ap.add_argument("--markdown", default=None)
    args = ap.parse_args(argv)

    from mrml.device import cpu_threads
    from mrml.models import load_model
    from mrml.spectrum import Spectrum
    from mrml.io.nmrpipe import from_pipe
    from mrml.stages.nus3d import band_cube, process_indirect, reconstruct_3d
    from simulators.nmr.schedules import poisson_gap_2d

    t0 = time.perf_counter()
    dic, noisy, clean, noise_sd = simulate(residues=args.residues, snr=args.snr, columns=args.columns,
                                           seed=args.seed)
    n1, n2 = noisy.shape[0] // 2, noisy.shape[1] // 2
    ref, truth = process_indirect(noisy, window=True), process_indirect(clean, window=True)
    truth_raw = process_indirect(clean)
    threshold = 8 * noise_sd
    ref_peaks = local_maxima(truth, threshold)
    for model in args.model:
        load_model(model)
    print(f"simulated HNCA {noisy.shape} ({n1} x {n2} complex indirect points, {noisy.shape[2]} columns), "
          f"{len(ref_peaks)} reference peaks, {time.perf_counter() - t0:.0f} s; {cpu_threads()} CPUs", flush=True)
    rows = []
    for frac in args.fractions:
        sched = poisson_gap_2d((n1, n2), int(round(frac * n1 * n2)), rng=np.random.default_rng([args.seed, 7]))
        keep = np.zeros((n1, n2), bool)
        keep[sched[:, 0], sched[:, 1]] = True
        nus = noisy * np.repeat(np.repeat(keep, 2, axis=0), 2, axis=1)[:, :, None]
        spectrum: Spectrum = from_pipe(dic, nus.astype(np.float32), source="simulated HNCA")
        zf = process_indirect(nus, window=True)
        rows.append((frac, "zero fill", score(zf, ref, ref_peaks, threshold, truth),
                     score(zf, truth, ref_peaks, threshold, truth), 0.0, None))
        for method, model in [("ist", None), *(("net", m) for m in args.model)]:
            t = time.perf_counter()
            result, info = reconstruct_3d(spectrum, sched[:, ::-1], method=method,
                                          model=model or "nusnet3d")  # (y, z)
            seconds = time.perf_counter() - t
            rec = process_indirect(result.data, window=True)
            cov = None
            if method == "net":  # the shipped band, and the same band without its SNR factor
                band = np.asarray(band_cube(result, info).data)
                plain = np.asarray(band_cube(result, dataclasses.replace(info, band_factor=None)).data)
                err = np.abs(process_indirect(result.data) - truth_raw)
                peaks = np.abs(truth_raw) > threshold
                cov = (float(np.mean(err <= band)), float(np.mean(err[peaks] <= band[peaks])),
                       float(np.mean(err <= plain)), float(np.mean(err[peaks] <= plain[peaks])),
                       float(band.mean() / plain.mean()))
            label = model or method
            rows.append((frac, label, score(rec, ref, ref_peaks, threshold, truth),
                         score(rec, truth, ref_peaks, threshold, truth), seconds, cov))
            s = rows[-1][2]
            band_text = "" if cov is None else (f", band coverage {cov[0]:.3f} (above 8 SD {cov[1]:.3f}); without "
                                                f"the SNR factor {cov[2]:.3f} ({cov[3]:.3f}); width x{cov[4]:.2f}")
            print(f"{frac:.1%} {label}: NRMSD {s['nrmsd']:.3f}, r {s['peak_corr']:.4f}, artefacts "
                  f"{s['artefact_peaks']}, spurious {s['spurious_peaks']}, {seconds:.1f} s{band_text}", flush=True)
    lines = ["| sampling | method / network | NRMSD vs full | NRMSD vs noise-free | peak-height r "
             "| median height error "
             "| artefact peaks | spurious peaks | seconds | band coverage (all; > 8 SD) | without SNR factor "
             "| band width / without |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for frac, method, s, st, seconds, cov in rows:
        lines.append(f"| {frac:.1%} | {method} | {s['nrmsd']:.3f} | {st['nrmsd']:.3f} | {s['peak_corr']:.4f} | "
                     f"{s['median_height_error']:.1%} | {s['artefact_peaks']} | {s['spurious_peaks']} | "
                     f"{seconds:.1f} | "
                     + ("| | |" if cov is None else f"{cov[0]:.3f}; {cov[1]:.3f} | {cov[2]:.3f}; {cov[3]:.3f} | "
                                                  f"{cov[4]:.2f} |"))
    speed = [(f, {m: sec for ff, m, _, _, sec, _ in rows if ff == f}) for f in args.fractions]
    lines.append("")
    lines += [f"- {f:.1%}: IST {d['ist']:.1f} s, {m} {d[m]:.1f} s: {d['ist'] / d[m]:.1f}x faster"
              for f, d in speed for m in args.model]
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text + "\n")


if __name__ == "__main__":
    main()
