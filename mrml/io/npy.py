"""NumPy ``.npy`` arrays.

An array of shape ``(2, N)`` or ``(N, 2)`` (N > 2) whose first row (column) is
finite and strictly increasing is a DEER trace ``(t_us, V)``, DeerLab's layout
for its example ``.npy`` files; ``(2, N)`` is tried first. Any other array is
read as it is, with one index axis per dimension. Pickled (object) arrays are
refused.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from mrml.errors import InputError
from mrml.io import TIME_UNIT_TO_US, atomic_output
from mrml.spectrum import Axis, Spectrum

__all__ = ["read", "write"]


def _is_time(row: np.ndarray) -> bool:
    if np.iscomplexobj(row):
        if np.any(row.imag != 0):
            return False
        row = row.real
    return bool(np.all(np.isfinite(row)) and np.all(np.diff(row) > 0))


def _as_trace(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``(t_us, V)`` if ``arr`` is a two-row or two-column trace, else None."""
    if arr.ndim != 2:
        return None
    if arr.shape[0] == 2 and arr.shape[1] > 2 and _is_time(arr[0]):
        t, v = arr[0], arr[1]
    elif arr.shape[1] == 2 and arr.shape[0] > 2 and _is_time(arr[:, 0]):
        t, v = arr[:, 0], arr[:, 1]
    else:
        return None
    return np.real(t).astype(float), v.astype(complex if np.iscomplexobj(v) else float)


def read(path: str | os.PathLike) -> Spectrum:
    """Read a ``.npy`` array.

    Parameters
    ----------
    path : str or path-like
        The ``.npy`` file.

    Returns
    -------
    Spectrum
        ``format="npy"``: a 1-D trace with a ``t`` axis in us for a ``(t_us, V)``
        pair (see the module docstring), otherwise the array with index axes.

    Raises
    ------
    InputError
        If the file is missing, not a ``.npy`` file, holds pickled objects, a
        scalar, an empty or a non-numeric array.
    """
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            magic = fh.read(6)
            if magic != b"\x93NUMPY":
                what = "an .npz archive" if magic.startswith(b"PK") else "no NUMPY magic bytes"
                raise InputError(f"{p}: not a .npy array ({what})")
            fh.seek(0)
            arr = np.load(fh, allow_pickle=False)
    except OSError as exc:
        raise InputError(f"{p}: cannot read: {exc.strerror or exc}") from None
    except (ValueError, EOFError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else "bad format"
        if "pickle" in msg.lower():
            msg = "holds pickled objects, which are not loaded"
        raise InputError(f"{p}: not a readable .npy array ({msg})") from None
    if arr.dtype.kind not in "biufc":
        raise InputError(f"{p}: {arr.dtype} array; expected numbers")
    if arr.ndim == 0:
        raise InputError(f"{p}: holds a scalar, not a data array")
    if arr.size == 0:
        raise InputError(f"{p}: empty array {arr.shape}")
    prov = (f"read npy {p}",)
    trace = _as_trace(arr)
    if trace is not None:
        t_us, v = trace
        return Spectrum(v, (Axis("t", t_us.size, "time", "us", t_us),), {}, "npy", str(p), prov)
    axes = tuple(Axis(f"dim{i}", n) for i, n in enumerate(arr.shape))
    return Spectrum(arr, axes, {}, "npy", str(p), prov)


def write(path: str | os.PathLike, spectrum: Spectrum) -> None:
    """Write a spectrum as a ``.npy`` array, atomically.

    A 1-D spectrum on a time axis is stored as DeerLab does, shape ``(2, N)``:
    row 0 ``t_us``, row 1 ``V`` (the array is complex when ``V`` is). Anything
    else is stored as the bare data array (axes are not kept).

    Parameters
    ----------
    path : str or path-like
        Output file.
    spectrum : Spectrum
        The data to write.

    Raises
    ------
    InputError
        If the time axis has an unknown unit or the directory is not writable.
    """
    p = Path(path)
    data = np.asarray(spectrum.data)
    arr = data
    if data.ndim == 1 and spectrum.axes[0].domain == "time":
        ax = spectrum.axes[0]
        if ax.unit not in TIME_UNIT_TO_US:
            raise InputError(f"{p}: time axis has unknown unit {ax.unit!r}")
        dtype = complex if np.iscomplexobj(data) else float
        t_us = ax.coords() * TIME_UNIT_TO_US[ax.unit]
        arr = np.stack([t_us.astype(dtype), data.astype(dtype)])
    with atomic_output(p) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, np.ascontiguousarray(arr), allow_pickle=False)
