"""``mrml deer`` over one or many files: read, analyse in one network pass, write results.

Bad files are reported (one line each) and skipped; the rest are finished.
Outputs are written atomically and never overwrite without ``overwrite``.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np

from mrml.atomic import write_text
from mrml.errors import InputError, MrmlError


def _with_time_unit(spectrum, unit):
    """Reinterpret the numbers of a time axis stored without its unit as ``unit`` (``ns`` or ``us``).

    Readers convert to us on reading; where the file gave no unit they assumed
    ns (BES3T, noted in the provenance) or us (text, npy). Undo that
    assumption, then apply ``unit``.
    """
    ax = spectrum.axes[0]
    assumed_ns = any("assumed ns" in step for step in spectrum.provenance)
    numbers = ax.coords() * (1e3 if assumed_ns else 1.0)
    new_ax = dataclasses.replace(ax, values=numbers * {"ns": 1e-3, "us": 1.0}[unit], unit="us")
    return spectrum.replace(axes=(new_ax,) + spectrum.axes[1:], step=f"time axis numbers read as {unit}")


def _check_axis(spectrum):
    ax = spectrum.axes[0]
    if spectrum.ndim == 1 and ax.domain == "time" and ax.size > 1:
        dt_us = float(np.median(np.diff(ax.coords())))
        if dt_us < 1e-3:
            raise InputError(
                f"time step {dt_us * 1e3:.3g} ns is implausible for DEER; the file probably stores us "
                "without saying so: rerun with --time-unit us"
            )


def run_deer(inputs, *, output=None, out_dir=None, plot=None, model="deernet", zero_time_us=None, time_unit=None,
             overwrite=False, as_json=False, echo=print, emit=None, level: float = 0.95) -> int:
    """Analyse DEER files; return the exit code (0 all good, 2 if any input failed)."""
    from mrml.io import read
    from mrml.models import load_card
    from mrml.stages.deer import analyse, band_calibration

    band_calibration(load_card(model), level)  # an unknown level fails before any file is read
    inputs = [Path(p) for p in inputs]
    if len(inputs) > 1 and not out_dir:
        raise InputError("several inputs need --out DIR (one result per input)")
    if out_dir and output:
        raise InputError("give either -o FILE (one input) or --out DIR, not both")
    if not out_dir and not output and not as_json:
        raise InputError("give -o RESULT.csv, --out DIR or --json")
    targets = []
    for p in inputs:
        if out_dir:
            stem = Path(out_dir) / p.stem
            targets.append((stem.with_suffix(".csv"), stem.with_suffix(".png") if plot else None,
                            stem.with_suffix(".json") if as_json else None))
        else:
            targets.append((Path(output) if output else None, Path(plot) if plot else None, None))
    for csv, png, js in targets:
        for path in (csv, png, js):
            if path is not None and path.exists() and not overwrite:
                raise InputError(f"{path} exists; use --overwrite to replace it")
    if out_dir:
        Path(out_dir).mkdir(parents=True, exist_ok=True)

    spectra, failed = [], []
    for p, tgt in zip(inputs, targets):
        try:
            sp = read(p)
            if time_unit:
                sp = _with_time_unit(sp, time_unit)
            _check_axis(sp)
            spectra.append((p, tgt, sp))
        except MrmlError as exc:
            failed.append((p, str(exc)))
    results = []
    if spectra:
        analysed = analyse([s for _, _, s in spectra], model=model, zero_time_us=zero_time_us, errors="return",
                           level=level)
        for item, res in zip(spectra, analysed):
            if isinstance(res, MrmlError):
                failed.append((item[0], str(res)))
            else:
                results.append((item, res))
    summaries = []
    for (p, (csv, png, js), _), res in results:
        if csv is not None:
            write_text(csv, res.csv_text())
        if png is not None:
            from mrml.plot import deer_figure, save_figure

            save_figure(deer_figure(res, title=p.name), png)
        summary = {"input": str(p), "output": str(csv) if csv else None, **res.summary()}
        if js is not None:
            write_text(js, res.json_text())
        for w in res.warnings:
            print(f"mrml: warning: {p.name}: {w}", file=sys.stderr)
        summaries.append(summary)
    for p, msg in failed:
        print(f"mrml: error: {p}: {msg}" if str(p) not in msg else f"mrml: error: {msg}", file=sys.stderr)
    if as_json and emit is not None:
        if len(inputs) == 1 and summaries:
            emit(summaries[0])
        else:
            emit({"results": summaries, "failed": [{"input": str(p), "error": m} for p, m in failed]})
    elif out_dir:
        echo(f"analysed {len(summaries)} of {len(inputs)} traces into {out_dir}"
             + (f"; {len(failed)} failed" if failed else ""))
    elif summaries:
        s = summaries[0]
        echo(f"{s['input']}: <r> = {s['r_mean_nm']:.2f} nm, modulation depth "
             f"{s['mod_depth']:.3f}, MNR {s['mnr']:.0f} -> {s['output']} ({s['band_level']:.0%} band)")
    return 2 if failed else 0
