"""NUS schedule files: reading, validation and writing.

One sampled point per line, 0-based complex-point indices, whitespace
separated columns: one column for a single indirect dimension (FID-Net's
``ss_*.out``, Bruker ``nuslist`` of a 2D experiment), two for two indirect
dimensions (Bruker ``nuslist`` of a 3D experiment). Lines starting with ``#``
are comments. The order of the lines is the acquisition order, which is also
the order of the sampled rows in NMRPipe input (FID-Net's convention).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from mrml.errors import InputError


def read_schedule(path: str | os.PathLike) -> np.ndarray:
    """Read a schedule file.

    Parameters
    ----------
    path : str or path-like
        Text file with one sampled point per line.

    Returns
    -------
    numpy.ndarray of int64
        ``(n,)`` for one indirect dimension, ``(n, k)`` for ``k`` > 1.

    Raises
    ------
    InputError
        Missing file, non-integer or negative entries, ragged lines, no entries,
        or repeated points.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: schedule file not found")
    try:
        text = p.read_text(encoding="ascii")
    except UnicodeDecodeError:
        raise InputError(f"{p}: not a text schedule (one integer index per line)") from None
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            rows.append([int(tok) for tok in line.split()])
        except ValueError:
            raise InputError(f"{p}, line {number}: {line!r} is not a list of integer indices") from None
    if not rows:
        raise InputError(f"{p}: the schedule lists no sampled points")
    widths = {len(r) for r in rows}
    if len(widths) != 1:
        raise InputError(f"{p}: lines have different numbers of columns ({sorted(widths)})")
    sched = np.asarray(rows, dtype=np.int64)
    sched = sched[:, 0] if sched.shape[1] == 1 else sched
    validate_schedule(sched, source=str(p))
    return sched


def validate_schedule(schedule, *, shape=None, source: str = "schedule") -> np.ndarray:
    """Check a schedule, optionally against the full indirect size(s).

    Parameters
    ----------
    schedule : array_like of int
        ``(n,)`` or ``(n, k)`` indices.
    shape : int or tuple of int, optional
        Complex points of the fully sampled indirect dimension(s); indices must lie below.
    source : str
        Name used in error messages.

    Returns
    -------
    numpy.ndarray of int64
        The schedule as an array.

    Raises
    ------
    InputError
        Negative, out-of-range or repeated indices, or a column count that does not
        match ``shape``.
    """
    s = np.asarray(schedule)
    if s.size == 0 or s.ndim not in (1, 2) or not np.issubdtype(s.dtype, np.integer):
        raise InputError(f"{source}: a schedule is a non-empty list of integer indices")
    s = s.astype(np.int64)
    cols = s[:, None] if s.ndim == 1 else s
    if np.any(cols < 0):
        raise InputError(f"{source}: negative index {int(cols.min())} (indices are 0-based)")
    _, first, counts = np.unique(cols, axis=0, return_index=True, return_counts=True)
    if np.any(counts > 1):
        dup = cols[first[np.argmax(counts > 1)]]
        raise InputError(f"{source}: point {dup.tolist() if dup.size > 1 else int(dup[0])} is listed more than once")
    if shape is not None:
        dims = (int(shape),) if np.isscalar(shape) else tuple(int(d) for d in shape)
        if cols.shape[1] != len(dims):
            raise InputError(f"{source}: {cols.shape[1]} column(s) of indices but the data have "
                             f"{len(dims)} indirect dimension(s)")
        for k, d in enumerate(dims):
            if cols[:, k].max() >= d:
                raise InputError(f"{source}: index {int(cols[:, k].max())} is beyond the {d} complex points of "
                                 f"indirect dimension {k + 1}")
    return s


def write_schedule(path: str | os.PathLike, schedule, *, overwrite: bool = False) -> None:
    """Write a schedule (one point per line) atomically."""
    from mrml.atomic import write_text

    s = validate_schedule(schedule, source=str(path))
    cols = s[:, None] if s.ndim == 1 else s
    write_text(path, "\n".join(" ".join(str(int(v)) for v in row) for row in cols) + "\n", overwrite=overwrite)
