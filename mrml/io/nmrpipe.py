"""NMRPipe files (``.fid``, ``.ft``, ``.ft1``, ``.ft2``, ``.ft3``, ``.pipe``) through nmrglue.

Reading keeps nmrglue's array layout: the direct dimension last, complex when
it is complex; a complex (States) indirect time dimension keeps its real and
imaginary rows interleaved, as NMRPipe stores them. Axes carry label, domain
(time/frequency), spectral width, observe frequency and carrier; frequency axes
get ppm coordinates, time axes microseconds. The raw NMRPipe header (the
nmrglue dictionary) is kept read-only in :attr:`Spectrum.header`, and writing
a spectrum that came from an NMRPipe file writes that header back with the
sizes updated to the data, so processing keeps everything it does not change.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from mrml.errors import InputError
from mrml.io import atomic_output
from mrml.spectrum import Axis, Spectrum

__all__ = ["read", "write"]

#: Size of the NMRPipe header (512 float32 values).
HEADER_BYTES = 2048


def _axis(udic_dim: dict, uc, size: int, interleaved: bool) -> Axis:
    label = str(udic_dim.get("label") or "?").strip() or "?"
    sw, obs, car = (float(udic_dim[k]) for k in ("sw", "obs", "car"))
    if udic_dim.get("freq"):
        return Axis(label=label, size=size, domain="frequency", unit="ppm", values=uc.ppm_scale(),
                    sw_hz=sw, obs_mhz=obs, car_hz=car)
    step = (np.arange(size) // 2) if interleaved else np.arange(size)
    return Axis(label=label, size=size, domain="time", unit="us", values=step / sw * 1e6 if sw > 0 else step * 1.0,
                sw_hz=sw, obs_mhz=obs, car_hz=car)


def read(path: str | os.PathLike) -> Spectrum:
    """Read a 1D, 2D or 3D NMRPipe file.

    Parameters
    ----------
    path : str or path-like
        A single NMRPipe file (3D/4D as one data stream).

    Returns
    -------
    Spectrum
        ``format="nmrpipe"``; see the module docstring for the layout.

    Raises
    ------
    InputError
        Missing, truncated or non-NMRPipe file.
    """
    import nmrglue as ng

    p = Path(path)
    size = p.stat().st_size if p.is_file() else 0
    if size < HEADER_BYTES:
        raise InputError(f"{p}: not an NMRPipe file ({size} bytes; the header alone is {HEADER_BYTES})")
    with open(p, "rb") as fh:
        head = fh.read(12)
    order = [np.frombuffer(head, dtype=f"{e}f4")[2] for e in "<>"]
    if not any(abs(v - 2.345) < 1e-3 for v in order):  # FDFLTORDER, the byte-order check value
        raise InputError(f"{p}: not an NMRPipe file (no NMRPipe header)")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")  # nmrglue warns, then returns a flat array, on short files
            dic, data = ng.pipe.read(str(p))
        data = np.asarray(data)
    except (ValueError, OSError, IndexError, KeyError) as exc:
        raise InputError(f"{p}: not a readable NMRPipe file ({exc})") from None
    short = [w for w in caught if "cannot be shaped" in str(w.message)]
    if short:
        raise InputError(f"{p}: truncated NMRPipe file ({(size - HEADER_BYTES) // 4} data values do not fill "
                         f"the {int(dic['FDDIMCOUNT'])}D shape in its header)")
    if not np.all(np.isfinite(data)):
        raise InputError(f"{p}: data contain NaN or infinite values")
    return from_pipe(dic, data, source=str(p), step=f"read {p.name} (NMRPipe, nmrglue)")


def from_pipe(dic: dict, data, *, source: str | None = None, step: str = "") -> Spectrum:
    """A :class:`Spectrum` from an nmrglue NMRPipe dictionary and data array (axes from the header)."""
    import nmrglue as ng

    data = np.asarray(data)
    udic = ng.pipe.guess_udic(dic, data)
    axes = []
    for k in range(data.ndim):
        interleaved = bool(udic[k]["complex"]) and k < data.ndim - 1 and not udic[k]["freq"]
        uc = ng.pipe.make_uc(dic, data, dim=k)
        axes.append(_axis(udic[k], uc, data.shape[k], interleaved))
    return Spectrum(data=data, axes=tuple(axes), header=dict(dic), format="nmrpipe", source=source,
                    provenance=(step,) if step else ())


def write(path: str | os.PathLike, spectrum: Spectrum) -> None:
    """Write a spectrum as a single NMRPipe file (atomically).

    A spectrum read from NMRPipe keeps its header; its size fields are set to
    the data (1D, 2D), or, in 3D, the data must keep the header's shape. Other
    1D and 2D spectra get a header made from their axes.

    Raises
    ------
    InputError
        A 3D spectrum without an NMRPipe header of its shape, more than three
        dimensions, or no spectral width on an axis of a spectrum without an NMRPipe header.
    """
    import nmrglue as ng

    p = Path(path)
    data = np.asarray(spectrum.data)
    has_header = spectrum.format == "nmrpipe" and "FDDIMCOUNT" in spectrum.header
    if data.ndim == 3 and has_header and int(spectrum.header["FDDIMCOUNT"]) == 3:
        shape = ng.pipe.find_shape(dict(spectrum.header))
        if tuple(shape) != data.shape:
            raise InputError(f"{p}: 3D data of shape {data.shape} do not match their NMRPipe header {tuple(shape)}")
        dic = {**spectrum.header, "FDPIPEFLAG": 1.0}  # one data stream, read back whole by nmrglue and NMRPipe
    elif data.ndim not in (1, 2):
        raise InputError(f"{p}: writing {data.ndim}-D NMRPipe data needs a 3D NMRPipe header of the same shape")
    elif has_header:
        dic = _resized_header(dict(spectrum.header), data)
    else:
        dic = ng.pipe.create_dic(_udic_from_axes(spectrum, p))
    data = data.astype(np.complex64 if np.iscomplexobj(data) else np.float32)
    with atomic_output(p) as tmp:
        ng.pipe.write(str(tmp), dic, data, overwrite=True)


def _resized_header(dic: dict, data: np.ndarray) -> dict:
    """A copy of an NMRPipe header with the size fields matching ``data``."""
    dic = {k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in dic.items()}
    dic["FDSIZE"] = float(data.shape[-1])
    dic["FDF2QUADFLAG"] = 0.0 if np.iscomplexobj(data) else 1.0
    real_dims = [dic["FDF2QUADFLAG"]] + ([dic.get("FDF1QUADFLAG", 1.0)] if data.ndim == 2 else [])
    dic["FDQUADFLAG"] = 1.0 if all(int(q) == 1 for q in real_dims) else 0.0
    if data.ndim == 2:
        rows = data.shape[0]
        # nmrglue's (and NMRPipe's) rule: with a real direct and a complex indirect dimension
        # FDSPECNUM counts complex row pairs, otherwise rows
        direct_real, any_complex = int(dic["FDF2QUADFLAG"]) == 1, int(dic["FDQUADFLAG"]) == 0
        dic["FDSPECNUM"] = float(rows // 2 if direct_real and any_complex else rows)
        if int(dic.get("FDF1FTFLAG", 0)) == 0:  # indirect time domain: its acquired size changes with it
            n_ind = rows // 2 if int(dic.get("FDF1QUADFLAG", 1)) == 0 else rows
            dic["FDF1TDSIZE"] = float(n_ind)
            dic["FDF1APOD"] = float(n_ind)
    return dic


def _udic_from_axes(spectrum: Spectrum, p: Path) -> dict:
    import nmrglue as ng

    data = np.asarray(spectrum.data)
    udic = ng.fileio.fileiobase.create_blank_udic(data.ndim)
    for k, ax in enumerate(spectrum.axes):
        if ax.sw_hz is None:
            raise InputError(f"{p}: axis {ax.label!r} has no spectral width; cannot write NMRPipe")
        last = k == data.ndim - 1
        udic[k].update(size=data.shape[k] if not (not last and np.iscomplexobj(data)) else data.shape[k],
                       complex=bool(np.iscomplexobj(data)) if last else False, encoding="states",
                       sw=float(ax.sw_hz), obs=float(ax.obs_mhz or 1.0), car=float(ax.car_hz or 0.0),
                       label=ax.label[:8], time=ax.domain == "time", freq=ax.domain == "frequency")
    return udic
