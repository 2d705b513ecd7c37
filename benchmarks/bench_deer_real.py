"""DEER on real 4-pulse traces: mrml vs a DeerLab fit of the same file.

Files come from /work/shared/realdata/deer/ (DeerLab's example and test data;
see SOURCE.md there). For each file:

- mrml: ``mrml.io.read`` then ``mrml.stages.deer.analyse`` (phase, zero time,
  background found by mrml); timed per file after the model is loaded.
- DeerLab, following its example scripts: ``dl.deerload``, ``dl.correctphase``,
  ``V /= max(V)``, ``t = t - t[0] + tmin``, then
  ``dl.fit(dl.dipolarmodel(t, r, Bmodel=dl.bg_hom3d, experiment=dl.ex_4pdeer(tau1, tau2, pathways=[1])), V)``
  with the timings of the examples. Files without known timings (the
  triradical series) get ``t = t - t[0]`` and tau1 at the maximum of the
  phase-corrected real part (DeerLab fits the refocusing time within +-48 ns
  of tau1 in both cases).

The issue's goal: mrml's mean distance within 0.2 nm of DeerLab's on the same file.

``--keep F`` cuts every trace to the first fraction F of its recorded time axis
before either method sees it (the same points for both): a shorter dipolar
evolution window, as measured on samples that relax faster. It checks that the
agreement is not specific to these files' windows.

Usage::

    python benchmarks/bench_deer_real.py --model deernet --markdown deer_real.md
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

from _deer_common import Report, deerlab_fit, deerlab_r_grid, deerlab_version, import_deerlab, progress
from mrml import metrics

DATA = Path("/work/shared/realdata/deer")
#: Agreement goal for the mean distance (nm).
GOAL_NM = 0.2
#: Grid on which the two P(r) are compared (nm).
R_COMPARE = np.round(np.arange(1.0, 12.0 + 1e-9, 0.02), 6)


@dataclasses.dataclass(frozen=True)
class RealFile:
    """One real trace and the DeerLab example settings for it (times in us)."""

    stem: str
    tau1: float | None = None
    tau2: float | None = None
    tmin: float | None = None
    file_unit: str | None = None  # unit of the file's axis numbers when the file omits it
    drop_last: int = 0            # points the DeerLab example drops at the end
    note: str = ""


_NO_TIMINGS = "three spins; no timings known: DeerLab's tau1 set at the maximum of the real part"

FILES = (
    RealFile("example_4pdeer_1", 0.3, 4.0, 0.1),
    RealFile("example_4pdeer_2", 0.5, 3.5, 0.1),
    RealFile("example_4pdeer_3", 0.3, 2.0, 0.1),
    RealFile("example_4pdeer_4", 0.3, 5.0, 0.1,
             note="timings of DeerLab's forcefield example; its global-fit example (0.5/4.0/0.3) does not match "
                  "the 5.2 us axis"),
    RealFile("example_4pdeer_5", 0.5, 4.5, 0.3, file_unit="us",
             note="axis numbers in us without a unit; crossing echoes not masked for either method"),
    RealFile("experimental_mbp_protein_4pdeer", 0.4, 3.0, 0.04, drop_last=2),
    RealFile("triradical_protein_deer_0dB", note=_NO_TIMINGS),
    RealFile("triradical_protein_deer_6dB", note=_NO_TIMINGS),
    RealFile("triradical_protein_deer_9dB", note=_NO_TIMINGS),
)


# ----------------------------------------------------------------------------- mrml

def _kept(t, keep: float) -> int:
    """Number of leading points within the first fraction ``keep`` of the axis ``t``."""
    t = np.asarray(t, dtype=float)
    return int(np.sum(t <= t[0] + keep * (t[-1] - t[0]) + 1e-12))


def truncated(sp, keep: float):
    """The spectrum cut to the first fraction ``keep`` of its time axis."""
    if keep >= 1.0:
        return sp
    n = _kept(sp.axes[0].coords(), keep)
    ax = dataclasses.replace(sp.axes[0], size=n, values=sp.axes[0].coords()[:n])
    return sp.replace(data=np.asarray(sp.data)[:n], axes=(ax,), step=f"benchmark: first {keep:.0%} of the axis kept")


def read_for_mrml(f: RealFile):
    """Read the file as ``mrml deer`` does (``--time-unit`` for files that omit the unit).

    Returns the spectrum and a note when the benchmark had to correct the axis itself.
    """
    from mrml.deer_batch import _with_time_unit
    from mrml.io import read

    sp = read(DATA / f"{f.stem}.DTA")
    if not f.file_unit:
        return sp, ""
    sp = _with_time_unit(sp, f.file_unit)  # what `mrml deer --time-unit us` does
    step = float(np.median(np.diff(sp.axes[0].coords())))
    if step >= 1e-3:
        return sp, ""
    # the reader already converted the unit-less numbers from an assumed ns; undo that here
    ax = dataclasses.replace(sp.axes[0], values=sp.axes[0].coords() * 1e3)
    note = (f"`--time-unit {f.file_unit}` left a {step * 1e3:.3g} ns step (axis still read as ns); "
            "the benchmark rescaled the axis by 1000")
    return sp.replace(axes=(ax,), step="benchmark: axis rescaled ns -> us"), note


def run_mrml(sp, model: str) -> dict:
    """Analyse one spectrum; a refusal is a result too."""
    from mrml.errors import DataError
    from mrml.stages.deer import analyse

    start = time.perf_counter()
    try:
        res = analyse([sp], model=model)[0]
    except DataError as exc:
        return {"refused": str(exc), "seconds": time.perf_counter() - start}
    return {"result": res, "seconds": time.perf_counter() - start}


# ----------------------------------------------------------------------------- DeerLab

def run_deerlab(dl, f: RealFile, keep: float = 1.0) -> dict:
    """Fit the file following DeerLab's example recipe; returns the fit and the zero time on the file's axis."""
    t, v = dl.deerload(str(DATA / f"{f.stem}.DTA"))
    t, v = np.asarray(t, float), np.asarray(v)
    if f.file_unit == "us" and np.median(np.diff(t)) < 1e-3:
        t = t * 1e3  # deerload also reads the unit-less numbers as ns; the example multiplies by 1e3
    if keep < 1.0:
        n = _kept(t, keep)
        t, v = t[:n], v[:n]
    elif f.drop_last:
        t, v = t[:-f.drop_last], v[:-f.drop_last]
    if f.tau1 is not None:
        offset, tau1, tau2 = f.tmin - t[0], f.tau1, f.tau2
    else:  # zero time guessed at the maximum of the real part; tau2 only matters for other pathways
        offset = -t[0]
        tau1 = float(t[int(np.argmax(dl.correctphase(v.astype(complex))))] + offset)
        tau2 = float(t[-1] + offset - tau1)
    tt = t + offset
    experiment = dl.ex_4pdeer(tau1, tau2, pathways=[1])  # refocusing time fitted within tau1 +- 48 ns
    try:
        fit = deerlab_fit(dl, tt, v, deerlab_r_grid(float(tt[-1] - tau1)), experiment=experiment)
    except Exception as exc:
        return {"failed": f"{type(exc).__name__}: {exc}"}
    return {"fit": fit, "zero_time_us": fit.reftime_us - offset, "seconds": fit.seconds}


# ----------------------------------------------------------------------------- report

HEADER = ["file", "mrml r_mean nm", "DeerLab r_mean nm", "diff nm", f"within {GOAL_NM}", "overlap", "mrml lam",
          "DeerLab lam", "mrml t0 us", "DeerLab t0 us", "mrml s", "DeerLab s"]


def row_for(f: RealFile, mine: dict, theirs: dict | None) -> tuple[list, float | None]:
    res = mine.get("result")
    fit = theirs.get("fit") if theirs else None
    r_m = res.r_mean_nm if res else None
    r_d = fit.r_mean_nm if fit else None
    diff = r_m - r_d if res and fit else None
    ov = None
    if res and fit:
        p_m = np.interp(R_COMPARE, res.r_nm, res.p, left=0, right=0)
        p_d = np.interp(R_COMPARE, fit.r_nm, fit.p, left=0, right=0)
        ov = float(metrics.overlap(p_m[None], p_d[None], R_COMPARE)[0])
    within = None if diff is None else ("yes" if abs(diff) <= GOAL_NM else "no")
    row = [f.stem, r_m if res else "refused", r_d, diff, within, ov, res.mod_depth if res else None,
           fit.mod_depth if fit else None, res.zero_time_us if res else None,
           theirs.get("zero_time_us") if theirs else None, mine["seconds"], fit.seconds if fit else None]
    return row, diff


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog="Example: python benchmarks/bench_deer_real.py --model /tmp/deer_quick")
    ap.add_argument("--model", default="deernet", help="shipped model name or trained folder (default deernet)")
    ap.add_argument("--files", nargs="+", choices=[f.stem for f in FILES], help="subset of files (default all)")
    ap.add_argument("--deerlab", action=argparse.BooleanOptionalAction, default=True,
                    help="run the DeerLab fits (default on)")
    ap.add_argument("--keep", type=float, default=1.0,
                    help="fraction of each trace's time axis kept, from its start (default 1: whole trace)")
    ap.add_argument("--markdown", metavar="OUT.md", help="also write the table as a markdown section")
    args = ap.parse_args(argv)
    if not 0.2 <= args.keep <= 1.0:
        ap.error("--keep must lie in 0.2..1")
    return args


def main(argv=None):
    args = parse_args(argv)
    files = [f for f in FILES if not args.files or f.stem in args.files]
    dl = import_deerlab() if args.deerlab else None
    rep = Report()
    rep.heading("DEER benchmark: real traces, mrml vs DeerLab on the same file", level=2)
    rep.line(f"model `{args.model}`" + (f", DeerLab {deerlab_version(dl)}" if dl else "") + f"; data {DATA}. "
             f"Command: `python benchmarks/bench_deer_real.py {' '.join(sys.argv[1:] if argv is None else argv)}`. "
             "t0 = zero time on the file's axis (DeerLab: fitted refocusing time); overlap = overlap of the two "
             f"P(r); goal |diff| <= {GOAL_NM} nm.")
    spectra = {f.stem: read_for_mrml(f) for f in files}
    run_mrml(spectra[files[0].stem][0], args.model)  # load the model before timing
    cut = args.keep < 1.0
    if cut:
        rep.line(f"Every trace cut to the first {args.keep:.0%} of its time axis for both methods. \"shift\": change "
                 "of each method's mean distance from its own result on the whole trace (same run).")
    rows, notes, diffs, shifts = [], [], [], []
    for f in files:
        sp, axis_note = spectra[f.stem]
        progress(f"{f.stem}: mrml" + (", DeerLab" if dl else ""))
        mine = run_mrml(truncated(sp, args.keep), args.model)
        theirs = run_deerlab(dl, f, args.keep) if dl else None
        row, diff = row_for(f, mine, theirs)
        if cut:
            whole = (run_mrml(sp, args.model), run_deerlab(dl, f) if dl else None)
            pair = [_shift(now, before) for now, before in ((mine, whole[0]), (theirs, whole[1]))]
            row += pair
            if None not in pair:
                shifts.append(pair)
        rows.append(row)
        if diff is not None:
            diffs.append(diff)
        notes += [f"- {f.stem}: {text}" for text in _file_notes(f, mine, theirs, axis_note)]
    rep.table(HEADER + (["mrml shift nm", "DeerLab shift nm"] if cut else []), rows)
    if diffs:
        d = np.abs(diffs)
        rep.line(f"mean distance within {GOAL_NM} nm of DeerLab on {int(np.sum(d <= GOAL_NM))} of {d.size} files; "
                 f"mean |diff| {d.mean():.3f} nm, max {d.max():.3f} nm.")
    if shifts:
        a = np.abs(shifts)
        rep.line(f"mean |shift| from the whole trace: mrml {a[:, 0].mean():.3f} nm (max {a[:, 0].max():.3f}), "
                 f"DeerLab {a[:, 1].mean():.3f} nm (max {a[:, 1].max():.3f}).")
    if notes:
        rep.line("Notes and mrml warnings:")
        for n in notes:
            rep.line(n)
    if args.markdown:
        rep.write(args.markdown)


def _shift(now: dict | None, before: dict | None) -> float | None:
    """Change of one method's mean distance between two runs (None when either gave none)."""
    def r_mean(run):
        if not run:
            return None
        res = run.get("result") or run.get("fit")
        return None if res is None else res.r_mean_nm
    a, b = r_mean(now), r_mean(before)
    return None if a is None or b is None else a - b


def _file_notes(f: RealFile, mine: dict, theirs: dict | None, axis_note: str) -> list[str]:
    out = [f.note] if f.note else []
    if axis_note:
        out.append(axis_note)
    if "refused" in mine:
        out.append(f"mrml refused: {mine['refused']}")
    else:
        out += [f"mrml warning: {w}" for w in mine["result"].warnings]
    if theirs and "failed" in theirs:
        out.append(f"DeerLab failed: {theirs['failed']}")
    return out


if __name__ == "__main__":
    main()
