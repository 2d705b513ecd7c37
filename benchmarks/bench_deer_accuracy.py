"""DEER accuracy and speed on simulated held-out traces: mrml's network vs DeerLab's Tikhonov fit.

Three test sets come from ``simulators.deer`` with a seed that training never
uses (training uses seeds 0, 1, 2):

- ``gauss``: 1-3 Gaussian components, homogeneous 3D background;
- ``unseen-shapes``: 1-2 flat-topped components, a shape the network is not trained on;
- ``broad``: 1-4 skew-normal and Gaussian components, half the backgrounds
  stretched, 10 % of traces with exchange coupling (closer to the full prior).

mrml gets the raw complex trace on the reported (slightly wrong) time axis and
finds phase and zero time itself; it is timed on the whole batch after the model
is loaded. DeerLab gets the trace phase-corrected (``dl.correctphase``), scaled
to a maximum of 1 and with the time axis shifted so that the *true* zero time
is 0 and the model's refocusing time frozen there (zero time known: an
advantage mrml does not have; left free, DeerLab's fit sometimes wanders to a
refocusing time hundreds of ns off), then
``dl.fit(dl.dipolarmodel(t, r, Bmodel=dl.bg_hom3d), V)``; each fit is timed.

Both results are interpolated onto one grid (1-10 nm, 0.02 nm; zero outside a
method's range) and compared with the true P(r) evaluated on that grid.
Finally the whole command ``mrml deer FILES... --out DIR`` is timed as a
subprocess on the ``gauss`` traces written as BES3T files.

Usage::

    python benchmarks/bench_deer_accuracy.py --model deernet --n 200 --markdown deer_bench.md
    python benchmarks/bench_deer_accuracy.py --model /tmp/deer_quick --n 20 --deerlab-n 5
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _deer_common import Report, deerlab_fit, deerlab_r_grid, deerlab_version, import_deerlab, progress
from mrml import metrics
from mrml.spectrum import Axis, Spectrum
from simulators.deer import DeerSimulator, distance_distribution, reported_time_axis

#: Common evaluation grid (nm).
R_GRID = np.round(np.arange(1.0, 10.0 + 1e-9, 0.02), 6)


#: Truth below this fraction of its maximum counts as exactly zero (float32 tails).
TRUTH_FLOOR = 1e-6

_COMMON = {
    "noise_frac": [0.005, 0.05], "mod_depth": [0.1, 0.6], "t_max_us": [2.5, 5.0], "mean_nm": [2.0, 5.5],
    "rel_width": [0.03, 0.25], "t_pre_us": [0.1, 0.3], "zero_time_us": [-0.02, 0.02], "bg_decay": [0.0, 1.0],
    "n_points": 256, "exchange_frac": 0.0, "bg_stretched_frac": 0.0,
}
#: name -> (description, simulator overrides)
TEST_SETS = {
    "gauss": ("1-3 Gaussian components, 3D background",
              {**_COMMON, "n_components": [1, 3], "shapes": ["gauss"]}),
    "unseen-shapes": ("1-2 flat-topped components (not in training), 3D background",
                      {**_COMMON, "n_components": [1, 2], "shapes": ["flat"]}),
    "broad": ("1-4 skew-normal/Gaussian components, 50 % stretched backgrounds, 10 % exchange",
              {**_COMMON, "n_components": [1, 4], "shapes": ["skewnorm", "gauss"], "bg_stretched_frac": 0.5,
               "exchange_frac": 0.1}),
}

HEADER = ["method", "traces", "overlap", "RMSD /nm", "r_mean err nm", "lam err", "cov all", "cov P>1%",
          "width all", "width P>1%", "s/trace"]


@dataclasses.dataclass
class TestSet:
    """Simulated traces of one test set with their ground truth."""

    name: str
    description: str
    spectra: list
    t_us: np.ndarray          # (n, m) reported axes
    x: np.ndarray             # (n, m) complex raw traces
    zero_time_us: np.ndarray  # (n,) reported time of the true zero
    p_true: np.ndarray        # (n, len(R_GRID)) unit area
    mod_depth: np.ndarray     # (n,)


@dataclasses.dataclass
class Estimates:
    """One method's results on a test set, on :data:`R_GRID` (rows follow ``index``)."""

    index: np.ndarray
    p: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    mod_depth: np.ndarray
    seconds: float            # total analysis time of these traces
    refused: dict = dataclasses.field(default_factory=dict)
    failed: dict = dataclasses.field(default_factory=dict)

    def subset(self, keep) -> "Estimates":
        """Rows whose trace index is in ``keep`` (time scaled by the share of traces kept)."""
        rows = np.flatnonzero(np.isin(self.index, list(keep)))
        share = rows.size / max(self.index.size, 1)
        return Estimates(self.index[rows], self.p[rows], self.lower[rows], self.upper[rows], self.mod_depth[rows],
                         self.seconds * share)


# ----------------------------------------------------------------------------- data

def make_test_set(name: str, n: int, seed: int) -> TestSet:
    """Simulate test set ``name`` with ``n`` traces from generator ``(seed, set number)``."""
    description, overrides = TEST_SETS[name]
    sim = DeerSimulator.from_overrides(overrides)
    out = sim.simulate(n, np.random.default_rng([seed, list(TEST_SETS).index(name)]))
    t_us = reported_time_axis(out["params/t_start_us"], out["params/dt_us"], sim.n_points)
    spectra = [trace_spectrum(t_us[i], out["x"][i], f"{name}#{i}") for i in range(n)]
    return TestSet(name, description, spectra, t_us, out["x"], out["params/zero_time_us"], truth_on_grid(out, R_GRID),
                   out["params/mod_depth"])


def trace_spectrum(t_us, v, source: str) -> Spectrum:
    """A raw complex trace as a 1D :class:`Spectrum` with a time axis in us."""
    axis = Axis(label="t", size=t_us.size, domain="time", unit="us", values=t_us)
    return Spectrum(v, (axis,), source=source)


def truth_on_grid(out: dict, r_nm: np.ndarray) -> np.ndarray:
    """True P(r) re-evaluated from the component parameters on ``r_nm`` (unit area, negligible tails zeroed)."""
    comps = {"shape": out["params/comp_shape"], "mean_nm": out["params/comp_mean_nm"],
             "width_nm": out["params/comp_width_nm"], "skew": out["params/comp_skew"],
             "weight": out["params/comp_weight"]}
    p = distance_distribution(r_nm, comps).astype(float)
    p[p < TRUTH_FLOOR * p.max(axis=1, keepdims=True)] = 0.0
    return metrics.normalise(p, r_nm)


def to_grid(r_src, p, lower, upper, r_nm=R_GRID):
    """Interpolate P and its band onto ``r_nm`` (zero outside ``r_src``); P to unit area, band scaled alike."""
    p_g, lo_g, hi_g = (np.interp(r_nm, r_src, np.asarray(a, float), left=0.0, right=0.0) for a in (p, lower, upper))
    area = float(np.sum(np.clip(p_g, 0, None) * np.gradient(r_nm)))
    scale = 1.0 / area if area > 0 else 1.0
    return np.clip(p_g, 0, None) * scale, lo_g * scale, hi_g * scale


# ----------------------------------------------------------------------------- mrml

def run_mrml(test: TestSet, model: str, repeats: int = 3) -> Estimates:
    """Analyse the whole set in one ``analyse`` call, timed after a warm-up call (median of ``repeats`` calls).

    ``analyse`` raises on the first trace it refuses and returns nothing for the
    batch, so a refused trace (named in the message) is set aside and the batch
    rerun; only the final, successful call is timed.
    """
    from mrml.errors import DataError
    from mrml.stages.deer import analyse

    warm_up(test.spectra, model)
    pending = list(range(len(test.spectra)))
    refused: dict[int, str] = {}
    while pending:
        start = time.perf_counter()
        try:
            results = analyse([test.spectra[i] for i in pending], model=model)
        except DataError as exc:
            i = _named_trace(str(exc), test, pending)
            if i is None:
                return run_mrml_one_by_one(test, model, pending, refused)
            refused[i] = str(exc)
            pending.remove(i)
            continue
        times = [time.perf_counter() - start]
        for _ in range(repeats - 1):  # this VM's timings scatter by up to 2x between runs
            start = time.perf_counter()
            analyse([test.spectra[i] for i in pending], model=model)
            times.append(time.perf_counter() - start)
        return _collect(pending, results, float(np.median(times)), refused)
    return _collect([], [], 0.0, refused)


def warm_up(spectra, model: str) -> None:
    """Load the model and run one small batch so that timings exclude start-up."""
    from mrml.errors import DataError
    from mrml.stages.deer import analyse

    for sp in spectra[:4]:
        try:
            analyse([sp], model=model)
            return
        except DataError:
            continue


def _named_trace(message: str, test: TestSet, pending) -> int | None:
    m = re.match(r"^(\S+#\d+):", message)
    if not m:
        return None
    i = int(m.group(1).rsplit("#", 1)[1])
    return i if i in pending and test.spectra[i].source == m.group(1) else None


def run_mrml_one_by_one(test: TestSet, model: str, pending, refused) -> Estimates:
    """Fallback when a refusal does not name its trace: one call per trace (timed in total)."""
    from mrml.errors import DataError
    from mrml.stages.deer import analyse

    kept, results, seconds = [], [], 0.0
    for i in pending:
        start = time.perf_counter()
        try:
            results.append(analyse([test.spectra[i]], model=model)[0])
            kept.append(i)
        except DataError as exc:
            refused[i] = str(exc)
        seconds += time.perf_counter() - start
    return _collect(kept, results, seconds, refused)


def _collect(index, results, seconds, refused) -> Estimates:
    rows = [to_grid(res.r_nm, res.p, res.p_lower, res.p_upper) for res in results]
    empty = np.zeros((0, R_GRID.size))
    p, lo, hi = (np.array([r[k] for r in rows]) if rows else empty for k in range(3))
    lam = np.array([res.mod_depth for res in results])
    return Estimates(np.asarray(index, int), p, lo, hi, lam, seconds, refused=refused)


# ----------------------------------------------------------------------------- DeerLab

def run_deerlab(dl, test: TestSet, limit: int | None) -> Estimates:
    """Fit the first ``limit`` traces (all if None) one after another; zero time known."""
    n = len(test.spectra) if limit is None else min(limit, len(test.spectra))
    kept, rows, lams, failed, seconds = [], [], [], {}, 0.0
    for i in range(n):
        t = test.t_us[i] - test.zero_time_us[i]
        try:
            fit = deerlab_fit(dl, t, test.x[i], deerlab_r_grid(float(t[-1])), reftime_us=0.0)
        except Exception as exc:  # a failed fit is a result of the baseline, not a benchmark bug
            failed[i] = f"{type(exc).__name__}: {exc}"
            continue
        seconds += fit.seconds
        kept.append(i)
        rows.append(to_grid(fit.r_nm, fit.p, fit.p_lower, fit.p_upper))
        lams.append(fit.mod_depth)
        progress(f"  DeerLab {test.name} {i + 1}/{n}: {fit.seconds:.1f} s")
    empty = np.zeros((0, R_GRID.size))
    p, lo, hi = (np.array([r[k] for r in rows]) if rows else empty for k in range(3))
    return Estimates(np.asarray(kept, int), p, lo, hi, np.array(lams), seconds, failed=failed)


# ----------------------------------------------------------------------------- scoring

def score(est: Estimates, test: TestSet) -> dict:
    """Accuracy figures of ``est`` against the truth (means over its traces)."""
    if est.index.size == 0:
        return {"n": 0}
    truth = test.p_true[est.index]
    out = metrics.summary(est.p, est.lower, est.upper, truth, R_GRID)
    out["mod_depth_error"] = float(np.mean(np.abs(est.mod_depth - test.mod_depth[est.index])))
    out["s_per_trace"] = est.seconds / est.index.size
    return out


def score_row(label: str, s: dict) -> list:
    if s["n"] == 0:
        return [label, 0] + [None] * (len(HEADER) - 2)
    return [label, s["n"], s["overlap"], s["rmsd_per_nm"], s["mean_distance_error_nm"], s["mod_depth_error"],
            s["coverage_all"], s["coverage_significant"], s["band_width_per_nm"], s["band_width_significant_per_nm"],
            s["s_per_trace"]]


def report_set(rep: Report, test: TestSet, mine: Estimates, theirs: Estimates | None) -> dict:
    """Table and ratios of one test set; returns the figures for the summary."""
    rep.heading(f"{test.name}: {test.description} ({len(test.spectra)} traces)")
    rows = [score_row("mrml", score(mine, test))]
    paired = None
    if theirs is not None and theirs.index.size:
        both = sorted(set(mine.index) & set(theirs.index))
        paired = (score(mine.subset(both), test), score(theirs.subset(both), test))
        if len(both) != mine.index.size:
            rows.append(score_row("mrml, same traces as DeerLab", paired[0]))
        rows.append(score_row("DeerLab (zero time known)", paired[1]))
    rep.table(HEADER, rows)
    if mine.refused:
        rep.line(f"mrml refused {len(mine.refused)} of {len(test.spectra)} traces (no dipolar modulation above "
                 f"the noise); e.g. `{next(iter(mine.refused.values()))}`")
    if theirs is not None and theirs.failed:
        rep.line(f"DeerLab failed on {len(theirs.failed)} traces; e.g. `{next(iter(theirs.failed.values()))}`")
    if paired and paired[0]["n"]:
        a, b = paired
        rep.line(
            f"mrml vs DeerLab on the {a['n']} traces both analysed: mrml is "
            f"{b['s_per_trace'] / a['s_per_trace']:.0f}x faster per trace "
            f"({a['s_per_trace'] * 1e3:.1f} ms vs {b['s_per_trace']:.2f} s); differences mrml - DeerLab: "
            f"overlap {a['overlap'] - b['overlap']:+.3f}, RMSD {a['rmsd_per_nm'] - b['rmsd_per_nm']:+.3f}/nm, "
            f"r_mean error {a['mean_distance_error_nm'] - b['mean_distance_error_nm']:+.3f} nm, "
            f"coverage P>1% {a['coverage_significant'] - b['coverage_significant']:+.3f}, "
            f"width P>1% {a['band_width_significant_per_nm'] - b['band_width_significant_per_nm']:+.3f}/nm")
    return {"mrml": score(mine, test), "paired": paired}


# ----------------------------------------------------------------------------- whole command

def mrml_command() -> list[str]:
    """The installed ``mrml`` entry point (or the same through this interpreter)."""
    exe = shutil.which("mrml")
    return [exe] if exe else [sys.executable, "-c", "from mrml.cli import main; main()"]


def time_cli(test: TestSet, model: str) -> dict:
    """Wall time of ``mrml deer FILES... --out DIR`` on the set written as BES3T files (start-up included)."""
    from mrml.io import write

    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for i, sp in enumerate(test.spectra):
            path = Path(tmp) / f"{test.name}_{i:04d}.DTA"
            write(path, sp)
            files.append(str(path))
        cmd = mrml_command() + ["deer", *files, "--out", str(Path(tmp) / "out"), "--model", model]
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        seconds = time.perf_counter() - start
    if proc.returncode not in (0, 2):
        raise RuntimeError(f"mrml deer failed (exit {proc.returncode}): {proc.stderr.strip()[-500:]}")
    m = re.search(r"analysed (\d+) of (\d+)", proc.stdout)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("mrml: error")]
    return {"files": len(files), "analysed": int(m.group(1)) if m else None, "seconds": seconds,
            "exit": proc.returncode, "errors": errors}


def report_cli(rep: Report, cli: dict, theirs: Estimates | None, n: int) -> None:
    rep.heading("Whole command: `mrml deer FILES... --out DIR` vs DeerLab on the `gauss` traces")
    rows = [["mrml deer (subprocess, incl. Python/torch start-up)", cli["files"], cli["seconds"],
             cli["seconds"] / cli["files"]]]
    note = ""
    if theirs is not None and theirs.index.size:
        fitted = theirs.index.size
        total = theirs.seconds * n / fitted
        label = "DeerLab, sum of fit times" + (f" (extrapolated from {fitted} fits)" if fitted < n else "")
        rows.append([label, n, total, total / n])
        note = (f"mrml command is {total / cli['seconds']:.0f}x faster end to end"
                + (f" (DeerLab total extrapolated from {fitted} of {n} fits)" if fitted < n else "") + ".")
    rep.table(["run", "traces", "seconds", "s/trace"], rows)
    rep.line(f"mrml analysed {cli['analysed']} of {cli['files']} files (exit {cli['exit']}); "
             "it found phase and zero time itself. " + note)
    if cli["errors"]:
        rep.line(f"{len(cli['errors'])} files failed in the command, e.g. `{cli['errors'][0]}`")


# ----------------------------------------------------------------------------- main

def parse_args(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Example: python benchmarks/bench_deer_accuracy.py --model /tmp/deer_quick --n 20 --deerlab-n 5",
    )
    ap.add_argument("--model", default="deernet", help="shipped model name or trained folder (default deernet)")
    ap.add_argument("--n", type=int, default=200, help="traces per test set (default 200)")
    ap.add_argument("--seed", type=int, default=12345, help="test-set seed; training uses 0, 1, 2 (default 12345)")
    ap.add_argument("--sets", nargs="+", choices=list(TEST_SETS), default=list(TEST_SETS), help="test sets to run")
    ap.add_argument("--deerlab", action=argparse.BooleanOptionalAction, default=True,
                    help="run the DeerLab baseline (default on)")
    ap.add_argument("--deerlab-n", type=int, default=None,
                    help="fit only the first N traces of each set with DeerLab (default all; ~10-30 s each)")
    ap.add_argument("--cli", action=argparse.BooleanOptionalAction, default=True,
                    help="time the whole `mrml deer` command on the gauss set (default on)")
    ap.add_argument("--repeats", type=int, default=3, help="timed mrml runs per set; the median is reported")
    ap.add_argument("--markdown", metavar="OUT.md", help="also write the tables as a markdown section")
    return ap.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from mrml.device import pick_device

    dl = import_deerlab() if args.deerlab else None
    rep = Report()
    rep.heading("DEER benchmark: simulated held-out traces, mrml vs DeerLab", level=2)
    command = " ".join(sys.argv[1:] if argv is None else argv)
    rep.line(f"model `{args.model}`, {args.n} traces per set, seed {args.seed}, mrml device {pick_device()}, "
             f"{os.cpu_count()} CPUs" + (f", DeerLab {deerlab_version(dl)}" if dl else "")
             + f". Command: `python benchmarks/bench_deer_accuracy.py {command}`")
    rep.line("Metrics on a common grid (1-10 nm, 0.02 nm): overlap (1 = perfect), RMSD of unit-area P(r), "
             "mean absolute error of the mean distance (r_mean) and of the modulation depth (lam), 95 % band "
             "coverage of the truth over all r and where P_true > 1 % of its maximum, mean band width there, "
             "analysis seconds per trace. "
             "mrml finds phase and zero time itself; DeerLab is given the true zero time (refocusing time "
             "frozen at it).")
    figures = {}
    for name in args.sets:
        test = make_test_set(name, args.n, args.seed)
        progress(f"{name}: mrml on {args.n} traces")
        mine = run_mrml(test, args.model, repeats=args.repeats)
        theirs = run_deerlab(dl, test, args.deerlab_n) if dl else None
        figures[name] = report_set(rep, test, mine, theirs)
        if name == "gauss" and args.cli:
            progress("gauss: timing the mrml deer command")
            report_cli(rep, time_cli(test, args.model), theirs, args.n)
    if args.markdown:
        rep.write(args.markdown)
    return figures


if __name__ == "__main__":
    main()
