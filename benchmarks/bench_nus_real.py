"""Retrospective NUS of a real, fully sampled 1H-15N HSQC: reconstruction vs the full spectrum.

Data: ``../shared/realdata/nmr/bruker_parser_hsqc/test.fid`` (600 MHz BEST-HSQC, 256
complex 15N points, fully sampled; see SOURCE.md there). Processing follows the
depositor's own (from the ``test.ft2`` header): direct 1H dimension SP (off 0.5,
pow 1, first point x0.5), ZF to 2048, FT, PS 137.6, extraction of 11.0-5.5 ppm,
imaginaries deleted; indirect 15N dimension SP (off 0.5, pow 1), ZF 512, FT,
PS 90, DI. For each sampling fraction a seeded Poisson-gap schedule keeps that
share of the 256 complex 15N points; each method reconstructs the full
indirect time domain, which is then processed exactly like the full data.

The processed full spectrum has its peaks where the depositor's ``test.ft2``
has them (correlation 0.84 away from the 15N edges). The outermost 16 of the
512 15N rows carry an axial-like artefact of the raw data (identical in the
reference and every reconstruction; the depositor's processing removed it by
steps its header does not record) and are left out of the metrics.

Metrics against the fully sampled spectrum: normalised RMSD of the processed
spectrum, Pearson correlation of peak heights at the reference peaks
(local maxima above 8 noise SD), artefact peaks (local maxima above that level
further than 2 points from any reference peak), seconds per plane.

Usage::

    python benchmarks/bench_nus_real.py [--fractions 0.125 0.25 0.375] [--seed 0] [--markdown OUT.md]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

HSQC = Path(__file__).resolve().parents[1].parent / "shared" / "realdata" / "nmr" / "bruker_parser_hsqc" / "test.fid"


def process_direct(dic, data):
    """Direct (1H) processing as in the depositor's test.ft2 header; returns (dic, plane) with real columns."""
    import nmrglue as ng

    dic, data = ng.pipe_proc.sp(dic, data, off=0.5, end=1.0, pow=1, c=0.5)
    dic, data = ng.pipe_proc.zf(dic, data, size=2048)
    dic, data = ng.pipe_proc.ft(dic, data, auto=True)
    # Bruker digital filter: a group delay of FDDMXVAL points, removed as a first-order phase
    dic, data = ng.pipe_proc.ps(dic, data, p0=137.6, p1=-360.0 * float(dic["FDDMXVAL"]))
    dic, data = ng.pipe_proc.ext(dic, data, x1=229, xn=932)
    dic, data = ng.pipe_proc.di(dic, data)
    return dic, data


def process_indirect(dic, plane):
    """Indirect (15N) processing of a plane with States rows interleaved; returns (15N, 1H) real spectrum."""
    import nmrglue as ng

    dic, data = ng.pipe_proc.tp(dict(dic), plane.astype(np.float32))
    dic, data = ng.pipe_proc.sp(dic, data, off=0.5, end=1.0, pow=1, c=0.5)
    dic, data = ng.pipe_proc.zf(dic, data, size=512)
    dic, data = ng.pipe_proc.ft(dic, data, auto=True)
    dic, data = ng.pipe_proc.ps(dic, data, p0=90.0, p1=0.0)
    dic, data = ng.pipe_proc.di(dic, data)
    dic, data = ng.pipe_proc.tp(dic, data)
    return np.asarray(data, dtype=np.float64)


def local_maxima(spec, threshold):
    """(row, col) of 3x3 local maxima above ``threshold``."""
    from scipy.ndimage import maximum_filter

    peak = (spec == maximum_filter(spec, size=3)) & (spec > threshold)
    return np.argwhere(peak)


def score(rec, ref, ref_peaks, threshold):
    nrmsd = float(np.linalg.norm(rec - ref) / np.linalg.norm(ref))
    h_ref, h_rec = ref[tuple(ref_peaks.T)], rec[tuple(ref_peaks.T)]
    corr = float(np.corrcoef(h_ref, h_rec)[0, 1])
    found = local_maxima(rec, threshold)
    if len(found):
        d = np.abs(found[:, None, :] - ref_peaks[None, :, :]).max(-1).min(1)
        artefacts = int(np.sum(d > 2))
    else:
        artefacts = 0
    height_err = float(np.median(np.abs(h_rec - h_ref) / np.abs(h_ref)))
    return {"nrmsd": nrmsd, "peak_corr": corr, "artefact_peaks": artefacts, "median_height_error": height_err}


def methods():
    """name -> function(plane_sampled, schedule, n_full) -> full plane (rows interleaved)."""
    from mrml.stages.nus_ist import ist, ist_virtual_echo

    def zero_fill(y, sched, n_full):
        out = np.zeros((n_full, y.shape[1]), complex)
        out[sched] = y
        return out

    return {"zero-filled (no reconstruction)": zero_fill,
            "ist (200 iterations)": lambda y, s, n: ist(y, s, n, n_iter=200),
            "ist, virtual echo (15N phase 90)": lambda y, s, n: ist_virtual_echo(y, s, n, phase_deg=90.0, n_iter=200)}


def main(argv=None):
    import nmrglue as ng

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fractions", type=float, nargs="+", default=[0.125, 0.25, 0.375])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--markdown", metavar="OUT.md")
    args = ap.parse_args(argv)
    if not HSQC.exists():
        sys.exit(f"real data not found: {HSQC}")
    from simulators.nmr.schedules import poisson_gap

    dic, data = ng.pipe.read(str(HSQC))
    dic, plane = process_direct(dic, data)
    n_full = plane.shape[0] // 2
    full_td = plane[0::2].astype(np.float64) + 1j * plane[1::2]
    edge = 16
    ref = process_indirect(dic, plane)[edge:-edge]
    noise = 1.4826 * np.median(np.abs(ref - np.median(ref)))
    threshold = 8 * noise
    ref_peaks = local_maxima(ref, threshold)
    lines = [f"Retrospective NUS of the real HSQC ({HSQC.name}: {n_full} complex 15N points, {plane.shape[1]} 1H "
             f"points after processing; {len(ref_peaks)} reference peaks above 8 noise SD). "
             f"Command: `python benchmarks/bench_nus_real.py {' '.join(sys.argv[1:] if argv is None else argv)}`",
             "", "| sampling | method | NRMSD | peak-height r | artefact peaks | median height error | s/plane |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for frac in args.fractions:
        sched = poisson_gap(n_full, int(round(frac * n_full)), rng=np.random.default_rng([args.seed, int(frac * 1000)]))
        for name, fn in methods().items():
            start = time.perf_counter()
            td = fn(full_td[sched], sched, n_full)
            seconds = time.perf_counter() - start
            rec_plane = np.empty_like(plane, dtype=np.float64)
            rec_plane[0::2], rec_plane[1::2] = td.real, td.imag
            s = score(process_indirect(dic, rec_plane)[edge:-edge], ref, ref_peaks, threshold)
            lines.append(f"| {frac:.1%} | {name} | {s['nrmsd']:.3f} | {s['peak_corr']:.3f} | {s['artefact_peaks']} | "
                         f"{s['median_height_error']:.1%} | {seconds:.2f} |")
            print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    print("\n" + text)
    if args.markdown:
        Path(args.markdown).write_text(text)


if __name__ == "__main__":
    main()
