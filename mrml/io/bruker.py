"""Bruker TopSpin raw data (an experiment folder with ``acqus`` and ``fid`` or ``ser``) through nmrglue.

Reading keeps nmrglue's layout (direct dimension last and complex; indirect
dimensions as acquired, e.g. echo/antiecho or States row pairs) and the digital
filter as recorded; every axis is a time axis in microseconds with its
spectral width, observe frequency, carrier and nucleus label. The parameter
files (``acqus``, ``acqu2s``, ...) are kept in :attr:`Spectrum.header`, with the
acquisition mode of each indirect dimension under ``"encodings"`` and a NUS
schedule (``nuslist``) under ``"nuslist"`` when the folder has one. Writing
Bruker data is not supported (write NMRPipe instead).

NUS data hold only the sampled increments, in ``nuslist`` order. A 2D NUS
``ser`` is read as ``(2 n_sampled, n_direct)`` (two rows per increment). A 3D
NUS ``ser`` (two-column ``nuslist`` and an ``acqu3s``) is read as
``(n_sampled, 4, n_direct)``: for each sampled pair its four FIDs in
acquisition order, the first indirect dimension's (``acqu2s``) quadrature
component varying fastest, i.e. (Y re, Z re), (Y im, Z re), (Y re, Z im),
(Y im, Z im). Axis 0 carries the second indirect dimension's (``acqu3s``)
parameters and axis 1 the first's; the indirect axes have no time values.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from mrml.errors import InputError
from mrml.spectrum import Axis, Spectrum

__all__ = ["read", "write", "experiment_dir"]


def experiment_dir(path: str | os.PathLike) -> Path | None:
    """The experiment folder for a folder or its ``fid``/``ser`` file, or None if it is not Bruker data."""
    p = Path(path)
    d = p if p.is_dir() else p.parent if p.name in ("fid", "ser") else None
    if d is not None and (d / "acqus").is_file():
        return d
    return None


def read(path: str | os.PathLike) -> Spectrum:
    """Read a Bruker experiment folder (or its ``fid``/``ser`` file).

    Raises
    ------
    InputError
        No ``acqus``, no data file, or data that do not match the parameters (e.g. a truncated ``ser``).
    """
    import nmrglue as ng

    d = experiment_dir(path)
    if d is None:
        raise InputError(f"{path}: not a Bruker experiment folder (no acqus file)")
    if not ((d / "fid").is_file() or (d / "ser").is_file()):
        raise InputError(f"{d}: Bruker folder without fid or ser data")
    nuslist = None
    if (d / "nuslist").is_file():
        from mrml.io.schedule import read_schedule

        nuslist = read_schedule(d / "nuslist")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pulse-program and referencing notes
            shape = _nus_shape(d, nuslist)
            if shape:  # nmrglue's shape guess assumes fully sampled data: read the binary directly
                dic = ng.bruker.read_acqus_file(str(d))
                acqus = dic["acqus"]
                rows = (int(np.prod(shape[:-1])), shape[-1])  # the FIDs one after the other
                _, data = ng.bruker.read_binary(str(d / "ser"), shape=rows, cplex=True,
                                                big=int(acqus.get("BYTORDA", 0)) == 1,
                                                isfloat=int(acqus.get("DTYPA", 0)) == 2)
                data = np.asarray(data).reshape(shape)
            else:
                dic, data = ng.bruker.read(str(d))
            data = np.asarray(data)
            udic = ng.bruker.guess_udic(dic, data)
    except (ValueError, OSError, IndexError, KeyError, TypeError, ZeroDivisionError) as exc:
        # nmrglue reports short or inconsistent data in several ways
        raise InputError(f"{d}: unreadable or truncated Bruker data ({type(exc).__name__}: {exc})") from None
    expected = _expected_bytes(dic, None if nuslist is None else (2 if np.ndim(nuslist) == 1 else 4) * len(nuslist))
    actual = (d / ("ser" if (d / "ser").is_file() else "fid")).stat().st_size
    if expected is not None and actual < expected:
        raise InputError(f"{d}: truncated Bruker data ({actual} of {expected} bytes)")
    if not np.all(np.isfinite(data)):
        raise InputError(f"{d}: data contain NaN or infinite values")
    axes = []
    nus_3d = nuslist is not None and data.ndim == 3
    for k in range(data.ndim):
        u = udic[k]
        sw = float(u["sw"])
        pairs = k < data.ndim - 1 and bool(u["complex"])  # indirect quadrature: two rows per time point
        steps = np.arange(data.shape[k]) // 2 if pairs else np.arange(data.shape[k])
        timed = sw > 0 and not (nus_3d and k < 2)
        axes.append(Axis(label=str(u["label"]), size=data.shape[k], domain="time", unit="us" if timed else "",
                         values=steps / sw * 1e6 if timed else None,
                         sw_hz=sw, obs_mhz=float(u["obs"]), car_hz=float(u["car"])))
    header = dict(dic)
    header["encodings"] = [str(udic[k]["encoding"]) for k in range(data.ndim)]
    if nuslist is not None:
        header["nuslist"] = nuslist.tolist()
    provenance = (f"read {d.name} (Bruker, nmrglue)",)
    if nus_3d:
        provenance += (f"3D NUS: axis 0 = the {len(nuslist)} sampled (Y, Z) pairs of the nuslist, axis 1 = the "
                       "4 quadrature FIDs of each pair",)
    return Spectrum(data=data, axes=tuple(axes), header=header, format="bruker", source=str(d),
                    provenance=provenance)


def _nus_shape(d: Path, nuslist) -> tuple | None:
    """Data shape of a NUS ``ser``: 2D ``(2 n, TD/2)``, 3D ``(n, 4, TD/2)`` (see the module docstring)."""
    if nuslist is None or not (d / "ser").is_file():
        return None
    import nmrglue as ng

    td = int(ng.bruker.read_jcamp(str(d / "acqus"))["TD"])
    width = 1 if np.ndim(nuslist) == 1 else np.shape(nuslist)[1]
    dims = 2 + int((d / "acqu2s").is_file() and (d / "acqu3s").is_file())
    if width != dims - 1:
        raise InputError(f"{d}: a nuslist with {width} column(s) does not fit a {dims}D experiment")
    return (2 * len(nuslist), td // 2) if dims == 2 else (len(nuslist), 4, td // 2)


def _expected_bytes(dic, rows: int | None = None) -> int | None:
    """Bytes the fid/ser file must hold: TD of each dimension (blocks of 256 bytes along the direct one).

    ``rows`` overrides the indirect dimensions (NUS data hold only the sampled increments).
    """
    try:
        acqus = dic["acqus"]
        td = int(acqus["TD"])
        bytes_per = 8 if int(acqus.get("DTYPA", 0)) == 2 else 4
        row = int(np.ceil(td * bytes_per / 256.0)) * 256
        if rows is None:
            rows = 1
            for name in ("acqu2s", "acqu3s"):
                if name in dic:
                    rows *= int(dic[name]["TD"])
        return row * rows
    except (KeyError, ValueError, TypeError):
        return None


def write(path: str | os.PathLike, spectrum: Spectrum) -> None:
    """Not supported: Bruker data are raw instrument output."""
    raise InputError(f"{path}: writing Bruker data is not supported; write NMRPipe (.fid, .ft2) instead")
