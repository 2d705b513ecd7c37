"""Retrospective NUS of real, fully sampled spectra (1H-15N HSQC, 1H-13C methyl HMQC) vs the full spectrum.

HSQC data: ``../shared/realdata/nmr/bruker_parser_hsqc/test.fid`` (600 MHz BEST-HSQC, 256
complex 15N points, fully sampled; see SOURCE.md there). Processing follows the
depositor's own (from the ``test.ft2`` header): direct 1H dimension SP (off 0.5,
pow 1, first point x0.5), ZF to 2048, FT, PS 137.6, extraction of 11.0-5.5 ppm,
imaginaries deleted; indirect 15N dimension SP (off 0.5, pow 1), ZF 512, FT,
PS 90, DI. For each sampling fraction a seeded Poisson-gap schedule keeps that
share of the 256 complex 15N points; each method reconstructs the full
indirect time domain, which is then processed exactly like the full data.

Methyl data: ``../shared/realdata/nmr/methyl/test.fid`` (700 MHz 1H-13C HMQC of
13C,1H-labelled HDAC8, 256 complex 13C points, fully sampled; 13C-13C couplings
active). Direct 1H: SP (off 0.5, pow 1, first point x0.5), ZF auto, FT (alt, neg,
as in FID-Net's example), PS 151, extraction 2.5 to -0.5 ppm. Indirect 13C: as for
the HSQC, with the zero-order phase that makes the full spectrum most positive.

The processed full HSQC spectrum has its peaks where the depositor's ``test.ft2``
has them (correlation 0.84 away from the 15N edges). The outermost 16 of the
512 15N rows carry an axial-like artefact of the raw data (identical in the
reference and every reconstruction; the depositor's processing removed it by
steps its header does not record) and are left out of the metrics.

Metrics against the fully sampled spectrum: normalised RMSD of the processed
spectrum, Pearson correlation of peak heights at the reference peaks
(local maxima above 8 noise SD), artefact peaks (local maxima above that level
further than 2 points from any reference peak), seconds per plane (median of
``--repeats`` runs). One schedule decides a lot, above all for IST; ``--schedules N``
reports the mean and SD over N schedules and on how many the network beats IST.

Usage::

    python benchmarks/bench_nus_real.py [--data hsqc methyl] [--fractions 0.125 0.25 0.375] [--seed 0]
        [--model nusnet] [--repeats 3] [--schedules 1] [--points N] [--markdown OUT.md]

``--points N`` keeps only the first N complex indirect points of each data set (reference
and reconstructions alike): a shorter acquisition of the same sample, to check that the
comparison holds at other record lengths than the files' 256.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "realdata" / "nmr"
HSQC = REAL / "bruker_parser_hsqc" / "test.fid"
METHYL = REAL / "methyl" / "test.fid"


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


def process_direct_methyl(dic, data):
    """Direct (1H) processing of the methyl HMQC (FID-Net's example settings); returns (dic, plane), real columns."""
    import nmrglue as ng

    dic, data = ng.pipe_proc.sp(dic, data, off=0.5, end=1.0, pow=1, c=0.5)
    dic, data = ng.pipe_proc.zf(dic, data, auto=True)
    dic, data = ng.pipe_proc.ft(dic, data, alt=True, neg=True)
    dic, data = ng.pipe_proc.ps(dic, data, p0=151.0, p1=0.0)
    uc = ng.pipe.make_uc(dic, data, dim=1)
    dic, data = ng.pipe_proc.ext(dic, data, x1=uc("2.5 ppm"), xn=uc("-0.5 ppm"))
    dic, data = ng.pipe_proc.di(dic, data)
    return dic, data


def process_indirect(dic, plane, p0=90.0):
    """Indirect processing of a plane with States rows interleaved; returns the (indirect, direct) real spectrum."""
    import nmrglue as ng

    n = plane.shape[0]  # interleaved rows: zero fill to twice the complex points
    dic, data = ng.pipe_proc.tp(dict(dic), plane.astype(np.float32))
    dic, data = ng.pipe_proc.sp(dic, data, off=0.5, end=1.0, pow=1, c=0.5)
    dic, data = ng.pipe_proc.zf(dic, data, size=n)
    dic, data = ng.pipe_proc.ft(dic, data, auto=True)
    dic, data = ng.pipe_proc.ps(dic, data, p0=p0, p1=0.0)
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


METRICS = (("nrmsd", "{:.3f}", "lower"), ("peak_corr", "{:.3f}", "higher"), ("artefact_peaks", "{:.1f}", "lower"),
           ("median_height_error", "{:.2%}", "lower"))


def mean_sd(values, fmt: str = "{:.3f}") -> str:
    """``mean ± SD`` of several values (sample SD), or the value alone."""
    v = np.asarray(values, dtype=float)
    return fmt.format(v.mean()) + (" ± " + fmt.format(v.std(ddof=1)) if v.size > 1 else "")


def _cells(results):
    """Table cells of one method: each metric's mean (SD over schedules when there are several), seconds."""
    cells = []
    for key, fmt, _ in METRICS:
        v = [s[key] for s, _ in results]
        cells.append(str(int(v[0])) if key == "artefact_peaks" and len(v) == 1 else mean_sd(v, fmt))
    cells.append(f"{np.median([t for _, times in results for t in times]):.2f}")
    return cells


def _wins(name, frac, runs):
    """Row: on how many schedules the network (phase estimated) beats plain IST, metric by metric."""
    net = next(v for k, v in runs.items() if k.startswith("net") and "given" not in k)
    ist = next(v for k, v in runs.items() if k.startswith("ist ("))
    cells = []
    for key, _, better in METRICS:
        a = np.array([s[key] for s, _ in net])
        b = np.array([s[key] for s, _ in ist])
        won = (a <= b) if key == "artefact_peaks" else (a < b) if better == "lower" else (a > b)
        cells.append(f"{int(won.sum())}/{len(a)}")
    return f"| {name} | {frac:.1%} | " + " | ".join(cells) + " |"


def methods(model, phase_deg):
    """name -> function(plane_sampled, schedule, n_full) -> full plane (rows interleaved)."""
    from mrml.stages import nus_net
    from mrml.stages.nus_ist import ist, ist_virtual_echo

    def zero_fill(y, sched, n_full):
        out = np.zeros((n_full, y.shape[1]), complex)
        out[sched] = y
        return out

    def net(y, sched, n_full):  # as `mrml reconstruct --method net` without --phase: phase estimated
        return nus_net.members(y, sched, n_full, phase_deg=nus_net.estimate_phase_deg(y, sched, n_full),
                               model=model).mean(0)

    out = {"zero-filled (no reconstruction)": zero_fill,
           "ist (200 iterations)": lambda y, s, n: ist(y, s, n, n_iter=200),
           f"ist, virtual echo (phase {phase_deg:g})": lambda y, s, n: ist_virtual_echo(y, s, n, phase_deg=phase_deg,
                                                                                       n_iter=200)}
    if model:
        out[f"net ({Path(str(model)).name})"] = net
        out[f"net ({Path(str(model)).name}), phase {phase_deg:g} given"] = lambda y, s, n: nus_net.members(
            y, s, n, phase_deg=phase_deg, model=model).mean(0)
    return out


def load(name):
    """(dic, plane with real columns and States rows, indirect p0, rows left out at each edge)."""
    import nmrglue as ng

    if name == "hsqc":
        dic, data = ng.pipe.read(str(HSQC))
        dic, plane = process_direct(dic, data)
        return dic, plane, 90.0, 16
    dic, data = ng.pipe.read(str(METHYL))
    dic, plane = process_direct_methyl(dic, data)
    td = plane[0::2].astype(np.float64) + 1j * plane[1::2]
    spec = np.fft.fft(td, n=2 * td.shape[0], axis=0)
    phases = np.arange(0.0, 360.0, 1.0)
    p0 = float(phases[np.argmax([np.sum(np.real(spec * np.exp(1j * np.deg2rad(p)))) for p in phases])])
    return dic, plane, p0, 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", nargs="+", default=["hsqc", "methyl"], choices=["hsqc", "methyl"])
    ap.add_argument("--fractions", type=float, nargs="+", default=[0.125, 0.25, 0.375])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model", default="nusnet", help="network (shipped name or folder); '' for none")
    ap.add_argument("--repeats", type=int, default=3, help="runs per method; the median time is reported")
    ap.add_argument("--schedules", type=int, default=1,
                    help="Poisson-gap schedules per fraction (seeds SEED, SEED+1, ...); figures are their mean")
    ap.add_argument("--points", type=int, default=None,
                    help="keep the first N complex indirect points (a shorter acquisition); default all 256")
    ap.add_argument("--markdown", metavar="OUT.md")
    args = ap.parse_args(argv)
    for path in (HSQC, METHYL):
        if not path.exists():
            sys.exit(f"real data not found: {path}")
    from simulators.nmr.schedules import poisson_gap

    if args.model:  # load the network once, outside the timings
        from mrml.models import load_model

        load_model(args.model)
    lines = [f"Command: `python benchmarks/bench_nus_real.py {' '.join(sys.argv[1:] if argv is None else argv)}`",
             ""]
    if args.schedules > 1:
        lines += [f"Mean (and SD) over {args.schedules} Poisson-gap schedules per fraction (seeds "
                  f"{args.seed}-{args.seed + args.schedules - 1}); seconds: median over all runs.", ""]
    lines += ["| data | sampling | method | NRMSD | peak-height r | artefact peaks | median height error | s/plane |",
              "|---|---|---|---:|---:|---:|---:|---:|"]
    wins = []
    for name in args.data:
        dic, plane, p0, edge = load(name)
        if args.points:
            if not 16 <= args.points <= plane.shape[0] // 2:
                sys.exit(f"--points must lie in 16..{plane.shape[0] // 2}")
            edge = edge * args.points // (plane.shape[0] // 2)  # the edge artefact scales with the record
            plane = plane[:2 * args.points]
        n_full = plane.shape[0] // 2
        full_td = plane[0::2].astype(np.float64) + 1j * plane[1::2]
        cut = slice(edge, -edge if edge else None)
        ref = process_indirect(dic, plane, p0)[cut]
        noise = 1.4826 * np.median(np.abs(ref - np.median(ref)))
        threshold = 8 * noise
        ref_peaks = local_maxima(ref, threshold)
        print(f"{name}: {n_full} complex indirect points, {plane.shape[1]} direct points, indirect p0 {p0:g}, "
              f"{len(ref_peaks)} reference peaks above 8 noise SD", flush=True)
        for frac in args.fractions:
            runs: dict[str, list] = {}
            for seed in range(args.seed, args.seed + args.schedules):
                sched = poisson_gap(n_full, int(round(frac * n_full)),
                                    rng=np.random.default_rng([seed, int(frac * 1000)]))
                for method, fn in methods(args.model, p0).items():
                    times = []
                    for _ in range(args.repeats):  # this VM's timings scatter by up to 2x: report the median
                        start = time.perf_counter()
                        td = fn(full_td[sched], sched, n_full)
                        times.append(time.perf_counter() - start)
                    rec_plane = np.empty_like(plane, dtype=np.float64)
                    rec_plane[0::2], rec_plane[1::2] = td.real, td.imag
                    s = score(process_indirect(dic, rec_plane, p0)[cut], ref, ref_peaks, threshold)
                    runs.setdefault(method, []).append((s, times))
            for method, results in runs.items():
                lines.append(f"| {name} | {frac:.1%} | {method} | " + " | ".join(_cells(results)) + " |")
                print(lines[-1], flush=True)
            if args.model and args.schedules > 1:
                wins.append(_wins(name, frac, runs))
    if wins:
        lines += ["", f"Schedules (of {args.schedules}) on which the network (phase estimated) beats plain IST:", "",
                  "| data | sampling | NRMSD | peak-height r | artefact peaks (fewer or equal) | median height error |",
                  "|---|---|---:|---:|---:|---:|"] + wins
    text = "\n".join(lines) + "\n"
    print("\n" + text)
    if args.markdown:
        Path(args.markdown).write_text(text)


if __name__ == "__main__":
    main()
