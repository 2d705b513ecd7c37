"""Column text files for DEER traces (``.txt``, ``.dat``, ``.csv``).

Columns are separated by whitespace, commas or semicolons:

* two columns: ``t, V`` (real);
* three columns: ``t, Re V, Im V`` (complex);
* one column: ``V`` on an index axis.

The first column is time in **microseconds**, unless the header names its unit
explicitly (``t_ns``, ``time (ns)``, ``t [ms]``...), in which case it is
converted. Blank lines and lines starting with ``#``, ``%`` or ``;`` are skipped
anywhere; non-numeric lines are skipped only before the first data line (a
column-title line). NaN and Inf values are read as they are: judging them is the
analysis' job.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import numpy as np

from mrml.errors import InputError
from mrml.io import TIME_UNIT_TO_US, atomic_output
from mrml.spectrum import Axis, Spectrum

__all__ = ["read", "write"]

_SPLIT = re.compile(r"[\s,;]+")
_COMMENT = ("#", "%", ";")
_TIME_UNIT = re.compile(
    r"^[#%;\s]*(?:t|time)\s*[_\[(]\s*(ps|ns|us|\u00b5s|\u03bcs|ms|s)\s*[\])]?(?:[\s,;]|$)", re.IGNORECASE
)


def _parse(text: str, where) -> tuple[np.ndarray, list[str]]:
    rows: list[list[float]] = []
    header: list[str] = []
    ncol = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith(_COMMENT):
            if not rows:
                header.append(line)
            continue
        fields = [f for f in _SPLIT.split(line) if f]
        try:
            values = [float(f) for f in fields]
        except ValueError:
            if not rows:
                header.append(line)
                continue
            raise InputError(f"{where}: line {lineno}: cannot parse {raw.strip()[:60]!r} as numbers") from None
        if ncol is None:
            ncol = len(values)
        elif len(values) != ncol:
            raise InputError(f"{where}: line {lineno} has {len(values)} columns, the lines before it {ncol}")
        rows.append(values)
    if not rows:
        raise InputError(f"{where}: no numeric data")
    return np.array(rows, dtype=float), header


def _time_factor(header: list[str]) -> float:
    """us per unit of the first column, from an explicit unit in the title line; default us."""
    for line in reversed(header):
        m = _TIME_UNIT.match(line)
        if m:
            unit = m.group(1)
            return TIME_UNIT_TO_US.get(unit, TIME_UNIT_TO_US.get(unit.lower(), 1.0))
    return 1.0


def read(path: str | os.PathLike) -> Spectrum:
    """Read a column text file holding a DEER trace.

    Parameters
    ----------
    path : str or path-like
        A ``.txt``, ``.dat`` or ``.csv`` file (see the module docstring).

    Returns
    -------
    Spectrum
        1-D, ``format="text"``; the axis is ``t`` in us (domain ``time``) for two
        or three columns, an index axis for one column. Complex for three columns.

    Raises
    ------
    InputError
        If the file is missing, empty, ragged, has more than three columns or a
        non-numeric data line.
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise InputError(f"{p}: cannot read: {exc.strerror or exc}") from None
    if b"\x00" in raw:
        raise InputError(f"{p}: not a text file (binary content)")
    table, header = _parse(raw.decode("utf-8", errors="replace"), p)
    ncol = table.shape[1]
    meta = {"columns": ncol, "header_lines": tuple(header)}
    prov = (f"read text {p}",)
    if ncol == 1:
        return Spectrum(table[:, 0], (Axis("index", table.shape[0]),), meta, "text", str(p), prov)
    if ncol > 3:
        raise InputError(f"{p}: {ncol} columns; expected 2 (t_us, V) or 3 (t_us, Re V, Im V)")
    t_us = table[:, 0] * _time_factor(header)
    v = table[:, 1] if ncol == 2 else table[:, 1] + 1j * table[:, 2]
    axis = Axis("t", t_us.size, "time", "us", t_us)
    return Spectrum(v, (axis,), meta, "text", str(p), prov)


def write(path: str | os.PathLike, spectrum: Spectrum) -> None:
    """Write a 1-D spectrum as column text, atomically.

    Two columns ``t_us V`` for real data, three ``t_us V_real V_imag`` for
    complex data, with a title line (``# ...`` for ``.txt``/``.dat``; a plain
    comma-separated title for ``.csv``). Numbers keep full double precision.
    A time axis is written in us; any other axis as its coordinates (it reads
    back as time in us), except a bare index axis of real data, which is left
    out (one column).

    Parameters
    ----------
    path : str or path-like
        Output file; ``.csv`` gives commas, anything else tabs.
    spectrum : Spectrum
        1-D data.

    Raises
    ------
    InputError
        If the spectrum is not 1-D or not numeric.
    """
    p = Path(path)
    data = np.asarray(spectrum.data)
    if data.ndim != 1:
        raise InputError(f"{p}: column text holds 1-D traces, not {data.ndim}-D data")
    if data.dtype.kind not in "biufc":
        raise InputError(f"{p}: cannot write {data.dtype} data as text")
    ax = spectrum.axes[0]
    if ax.domain == "time":
        if ax.unit not in TIME_UNIT_TO_US:
            raise InputError(f"{p}: time axis has unknown unit {ax.unit!r}")
        x, xname = ax.coords() * TIME_UNIT_TO_US[ax.unit], "t_us"
    else:
        x, xname = ax.coords(), f"{ax.label}_{ax.unit}" if ax.unit else ax.label
    if ax.domain == "index" and ax.values is None and not np.iscomplexobj(data):
        cols, names = [data.astype(float)], ["V"]  # one column reads back as an index axis
    elif np.iscomplexobj(data):
        cols, names = [x, data.real, data.imag], [xname, "V_real", "V_imag"]
    else:
        cols, names = [x, data.astype(float)], [xname, "V"]
    csv = p.suffix.lower() == ".csv"
    sep = "," if csv else "\t"
    buf = io.StringIO()
    buf.write(("" if csv else "# ") + sep.join(names) + "\n")
    np.savetxt(buf, np.column_stack(cols), fmt="%.17g", delimiter=sep)
    with atomic_output(p) as tmp:
        tmp.write_text(buf.getvalue(), encoding="utf-8")
