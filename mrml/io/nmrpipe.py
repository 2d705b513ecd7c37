"""NMRPipe files (``.fid``, ``.ft``, ``.ft1``, ``.ft2``, ``.ft3``, ``.pipe``) through nmrglue.

Reading keeps nmrglue's array layout: the direct dimension last, complex when
it is complex; a complex (States) indirect time dimension keeps its real and
imaginary rows interleaved, as NMRPipe stores them. Axes carry label, domain
(time/frequency), spectral width, observe frequency and carrier; frequency axes
get ppm coordinates, time axes microseconds. The raw NMRPipe header (the
nmrglue dictionary) is kept read-only in :attr:`Spectrum.header`, and writing
a spectrum that came from an NMRPipe file writes that header back with the
sizes updated to the data, so processing keeps everything it does not change.

3D data come as one data stream (``xyz2pipe`` output, ``hnca.ft1``) or as a
series of 2D plane files named by a template, NMRPipe's usual layout
(``fid/test%03d.fid``, planes numbered from 1; it is what ``nusExpand.tcl``
writes). Give the template, quoted in a shell, to read or write a series.
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


def is_series(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a plane-series template such as ``fid/test%03d.fid``."""
    return "%" in Path(path).name


def plane_files(template: str | os.PathLike, n: int | None = None) -> list[Path]:
    """Files of a plane series: ``n`` planes, or those that exist from plane 1 on."""
    t = str(template)
    try:
        t % 1
    except (TypeError, ValueError):
        raise InputError(f"{template}: a plane-series name needs one integer field such as %03d") from None
    if n is not None:
        return [Path(t % k) for k in range(1, n + 1)]
    out = []
    while Path(t % (len(out) + 1)).is_file():
        out.append(Path(t % (len(out) + 1)))
    return out


def series_exists(template) -> bool:
    """Whether the first plane of a series exists (the series would be overwritten)."""
    return plane_files(template, 1)[0].is_file()


def read(path: str | os.PathLike) -> Spectrum:
    """Read a 1D, 2D or 3D NMRPipe file, or a 3D plane series.

    Parameters
    ----------
    path : str or path-like
        A single NMRPipe file (3D as one data stream), or the template of a 3D
        plane series (``fid/test%03d.fid``).

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

    if is_series(path):
        return _read_series(path)
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


def _read_series(template) -> Spectrum:
    """A 3D plane series: every plane a complete 2D file of the same size, none missing."""
    import nmrglue as ng

    files = plane_files(template)
    if not files:
        raise InputError(f"{template}: no plane file {Path(str(template) % 1).name} (a series is numbered from 1)")
    first = read(files[0])  # header and size checks of one plane
    dic = first.header
    # nmrglue gives a plane's shape for a header without the stream flag; the 3D shape needs the flag
    n_planes = int(ng.pipe.find_shape({**dic, "FDPIPEFLAG": 1.0})[0]) if int(dic.get("FDDIMCOUNT", 2)) == 3 else 0
    if n_planes < 1 or float(dic.get("FDPIPEFLAG", 0.0)) != 0.0:
        raise InputError(f"{files[0]}: not a plane of a 3D NMRPipe series (its header says "
                         f"{int(dic.get('FDDIMCOUNT', 2))}D{', a data stream' if dic.get('FDPIPEFLAG') else ''})")
    if len(files) < n_planes:
        raise InputError(f"{template}: plane {len(files) + 1} of {n_planes} "
                         f"({Path(str(template) % (len(files) + 1)).name}) is missing")
    files = files[:n_planes]
    size = files[0].stat().st_size
    short = [f.name for f in files if f.stat().st_size != size]
    if short:
        raise InputError(f"{template}: plane file {short[0]} is truncated ({size} bytes expected)")
    try:
        dic, data = ng.pipe.read(str(template))
        data = np.asarray(data)
    except (ValueError, OSError, IndexError, KeyError) as exc:
        raise InputError(f"{template}: not a readable NMRPipe plane series ({exc})") from None
    if not np.all(np.isfinite(data)):
        raise InputError(f"{template}: data contain NaN or infinite values")
    return from_pipe(dic, data, source=str(template),
                     step=f"read {Path(str(template)).name} (NMRPipe, {n_planes} planes, nmrglue)")


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
    """Write a spectrum as a single NMRPipe file (atomically), or a 3D one as a plane series.

    A ``path`` with a plane-number field (``ft/test%03d.ft1``) writes a 3D spectrum
    as NMRPipe's series of plane files: all planes are written to a temporary
    folder beside them and moved into place only when every one is complete.

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
        shape = ng.pipe.find_shape({**spectrum.header, "FDPIPEFLAG": 1.0})  # the 3D shape, stream or series
        if tuple(shape) != data.shape:
            raise InputError(f"{p}: 3D data of shape {data.shape} do not match their NMRPipe header {tuple(shape)}")
        dic = {**spectrum.header, "FDPIPEFLAG": 1.0}  # one data stream, read back whole by nmrglue and NMRPipe
        if is_series(p):
            _write_series(p, {**dic, "FDPIPEFLAG": 0.0, "FDFILECOUNT": float(data.shape[0])}, data)
            return
    elif is_series(p):
        raise InputError(f"{p}: a plane series holds 3D data with a 3D NMRPipe header; this is {data.ndim}D")
    elif data.ndim not in (1, 2):
        raise InputError(f"{p}: writing {data.ndim}-D NMRPipe data needs a 3D NMRPipe header of the same shape")
    elif has_header:
        dic = _resized_header(dict(spectrum.header), data)
    else:
        dic = _resized_header(ng.pipe.create_dic(_udic_from_axes(spectrum, p)), data)
    data = data.astype(np.complex64 if np.iscomplexobj(data) else np.float32)
    with atomic_output(p) as tmp:
        ng.pipe.write(str(tmp), dic, data, overwrite=True)


def _write_series(template: Path, dic: dict, data: np.ndarray) -> None:
    import shutil
    import secrets

    import nmrglue as ng

    parent = template.parent
    if not parent.is_dir():
        raise InputError(f"{template}: directory {parent} does not exist")
    files = plane_files(template, data.shape[0])
    tmp = parent / f".{template.name.replace('%', '_')}.{secrets.token_hex(6)}.tmp"
    tmp.mkdir()
    try:
        data = data.astype(np.complex64 if np.iscomplexobj(data) else np.float32)
        ng.pipe.write(str(tmp / template.name), dic, data, overwrite=True)
        for k, f in enumerate(files, start=1):
            os.replace(tmp / (template.name % k), f)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


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
        # an indirect dimension in the time domain holds States pairs of rows (complex); NMRPipe and nmrglue
        # would otherwise transform it as real points
        udic[k].update(size=data.shape[k],
                       complex=bool(np.iscomplexobj(data)) if last else ax.domain == "time", encoding="states",
                       sw=float(ax.sw_hz), obs=float(ax.obs_mhz or 1.0), car=float(ax.car_hz or 0.0),
                       label=ax.label[:8], time=ax.domain == "time", freq=ax.domain == "frequency")
    return udic
