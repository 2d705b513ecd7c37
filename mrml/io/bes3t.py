"""Bruker BES3T (Xepr/EasySpin) EPR data: ``.DSC`` descriptor + ``.DTA`` data (+ ``.XGF``/``.YGF``/``.ZGF``).

Layout of the returned :class:`~mrml.spectrum.Spectrum`
--------------------------------------------------------
* ``data`` has shape ``(ZPTS, YPTS, XPTS)`` with absent dimensions dropped, so X
  (the acquisition axis, the DEER time axis) is always the **last** axis, as in
  the file (X varies fastest). A file with several values per point
  (``IKKF REAL,CPLX``...) gets a leading ``component`` index axis.
* ``data`` is float64, or complex128 when any ``IKKF`` entry is ``CPLX``;
  integer and float32 files are converted.
* ``header`` holds every key of the ``#DESC`` and ``#SPL`` layers as raw strings
  (quotes kept, e.g. ``header["XNAM"] == "'Time'"``), device keys of ``#DSL`` as
  ``"<device>.<key>"`` (``"ftEpr.PlsSPELGlbTxt"``), and the ``#MHL`` layer as
  raw text under ``"MHL"``. Continued values (lines ending in ``\\``) are joined
  without separator, as DeerLab does.

Axis unit rule
--------------
* ``XUNI``/``YUNI``/``ZUNI`` given and a time unit (ps, ns, us, µs, ms, s): the
  axis is converted to microseconds (domain ``time``, unit ``us``).
* No unit (key absent or ``''``) and the axis name is absent (X only) or
  time-like (``Time``, ``t``, ``tau``): the numbers are taken as **ns**, the
  convention of Bruker pulse EPR, EasySpin and ``deerlab.deerload``. The
  provenance records the assumption. Nothing else is guessed: EasySpin exports
  whose numbers are really in us (DeerLab's ``example_4pdeer_5``: XMIN 0.3,
  XWID 4.696, no unit) come out 1000 times too short, exactly as with deerload.
* Frequency units (Hz, kHz, MHz, GHz): domain ``frequency``, unit kept.
* ``index`` or no unit on a named non-time axis: domain ``index``, raw numbers.
* Any other unit (G, mT, T, K, dB...): domain ``index`` with the unit kept.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

import numpy as np

from mrml.errors import InputError
from mrml.io import TIME_UNIT_TO_US, atomic_output
from mrml.spectrum import Axis, Spectrum

__all__ = ["read", "write", "parse_dsc", "dataset_paths"]

#: BES3T item format code -> numpy type (byte order added from BSEQ).
FORMAT_CODES = {"D": "f8", "F": "f4", "I": "i4", "S": "i2", "C": "i1"}
_FREQUENCY_UNITS = {"Hz", "kHz", "MHz", "GHz"}
_KEY_VALUE = re.compile(r"(\S+)\s*(.*)$")
_TIME_NAME = re.compile(r"^(time|t|tau\d*|t\d)$", re.IGNORECASE)
# Keys write() regenerates from the spectrum itself; all other header keys are kept.
_STRUCTURAL = {"DSRC", "BSEQ", "IKKF", "IRFMT", "IIFMT"} | {
    f"{a}{k}" for a in "XYZ" for k in ("TYP", "FMT", "PTS", "MIN", "WID", "NAM", "UNI")
}
_DESC_DOC = ("TITL", "IRNAM", "IRUNI", "IINAM", "IIUNI")


# ----------------------------------------------------------------------------- paths


def _companion(stem: Path, ext: str, prefer_lower: bool = False) -> Path | None:
    """Existing ``stem + ext`` in upper or lower case, else None."""
    cases = (ext.lower(), ext.upper()) if prefer_lower else (ext.upper(), ext.lower())
    for e in cases:
        p = Path(str(stem) + e)
        if p.is_file():
            return p
    return None


def dataset_paths(path: str | os.PathLike) -> tuple[Path, Path]:
    """Locate the ``.DSC`` and ``.DTA`` files of a BES3T data set.

    Parameters
    ----------
    path : str or path-like
        The ``.DTA`` or ``.DSC`` file (either case), or their common stem.

    Returns
    -------
    (pathlib.Path, pathlib.Path)
        The descriptor and the data file.

    Raises
    ------
    InputError
        If either file is missing.
    """
    p = Path(path)
    suffix = p.suffix
    if suffix.lower() in (".dta", ".dsc", ".xgf", ".ygf", ".zgf"):
        stem = p.with_suffix("")
        lower = suffix.islower()
        if not p.exists():
            raise InputError(f"{p}: no such file")
    else:
        stem, lower = p, False
    dsc = _companion(stem, ".DSC", lower)
    dta = _companion(stem, ".DTA", lower)
    if dsc is None and dta is None:
        raise InputError(f"{p}: no such BES3T data set (neither {stem.name}.DSC nor {stem.name}.DTA exists)")
    if dsc is None:
        raise InputError(f"{dta}: BES3T descriptor {stem.name}.DSC is missing; cannot interpret the data")
    if dta is None:
        raise InputError(f"{dsc}: BES3T data file {stem.name}.DTA is missing")
    return dsc, dta


# ----------------------------------------------------------------------------- header


def parse_dsc(text: str) -> dict[str, str]:
    """Parse the text of a BES3T ``.DSC`` descriptor into a flat dict of raw strings.

    Parameters
    ----------
    text : str
        The whole descriptor.

    Returns
    -------
    dict
        ``#DESC``/``#SPL`` keys as is, ``#DSL`` keys as ``"<device>.<key>"``, the
        ``#MHL`` layer as raw text under ``"MHL"``. Values are stripped of trailing
        whitespace; quotes are kept.
    """
    header: dict[str, str] = {}
    lines = text.splitlines()
    device = None
    pending_key, pending = None, []
    for i, raw in enumerate(lines):
        line = raw.rstrip()
        if pending_key is not None:  # continuation of a value ending in a backslash
            more = line.endswith("\\")
            pending.append(line[:-1] if more else line)
            if not more:
                header[pending_key] = "".join(pending)
                pending_key, pending = None, []
            continue
        line = line.strip()
        if not line or line.startswith("*"):
            continue
        if line.startswith("#"):
            layer = line[1:].split()[0] if len(line) > 1 else ""
            device = None
            if layer == "MHL":
                header["MHL"] = "\n".join(lines[i + 1 :])
                break
            continue
        if line.startswith(".DVC"):
            device = line[4:].split(",")[0].strip() or None
            continue
        key, value = _KEY_VALUE.match(line).groups()
        if device:
            key = f"{device}.{key}"
        if value.endswith("\\"):
            pending_key, pending = key, [value[:-1]]
            continue
        header[key] = value
    if pending_key is not None:
        header[pending_key] = "".join(pending)
    return header


def _unquote(value: str | None) -> str:
    v = (value or "").strip()
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
        v = v[1:-1]
    return v.strip()


def _read_header(dsc: Path) -> dict[str, str]:
    try:
        raw = dsc.read_bytes()
    except OSError as exc:
        raise InputError(f"{dsc}: cannot read: {exc.strerror or exc}") from None
    if re.search(rb"[\x00-\x08\x0e-\x1b]", raw):
        raise InputError(f"{dsc}: not a BES3T descriptor (binary content)")
    header = parse_dsc(raw.decode("latin-1"))
    if "XPTS" not in header:
        raise InputError(f"{dsc}: not a BES3T descriptor (no XPTS key)")
    return header


def _int(header, key, where) -> int:
    try:
        return int(float(_unquote(header[key])))
    except KeyError:
        raise InputError(f"{where}: BES3T descriptor has no {key}") from None
    except ValueError:
        raise InputError(f"{where}: bad {key} {header[key]!r} in BES3T descriptor") from None


def _float(header, key, where) -> float:
    try:
        return float(_unquote(header[key]))
    except KeyError:
        raise InputError(f"{where}: BES3T descriptor has no {key}") from None
    except ValueError:
        raise InputError(f"{where}: bad {key} {header[key]!r} in BES3T descriptor") from None


def _byte_order(header, where) -> str:
    bseq = _unquote(header.get("BSEQ", "BIG")).upper()
    if bseq not in ("BIG", "LIT"):
        raise InputError(f"{where}: unsupported byte order BSEQ {bseq!r} (expected BIG or LIT)")
    return ">" if bseq == "BIG" else "<"


def _item_dtype(code: str, byteorder: str, key: str, where) -> np.dtype:
    c = code.strip().upper()
    if c not in FORMAT_CODES:
        what = {"A": " (ASCII)", "0": " (no data)", "N": " (no data)"}.get(c, "")
        raise InputError(f"{where}: unsupported BES3T format {key} {code!r}{what}; expected one of D, F, I, S, C")
    return np.dtype(byteorder + FORMAT_CODES[c])


# ----------------------------------------------------------------------------- read


def _dimensions(header, where) -> list[tuple[str, int]]:
    """``[(letter, n), ...]`` for X, Y, Z axes present, in file order (X first)."""
    dims = []
    for a in "XYZ":
        typ = _unquote(header.get(f"{a}TYP", "IDX" if a == "X" else "NODATA")).upper()
        if typ == "NODATA":
            if a == "X":
                raise InputError(f"{where}: XTYP is NODATA; nothing to read")
            continue
        if typ not in ("IDX", "IGD"):
            raise InputError(f"{where}: unsupported axis type {a}TYP {typ!r} (expected IDX, IGD or NODATA)")
        n = _int(header, f"{a}PTS", where)
        if n < 1:
            raise InputError(f"{where}: {a}PTS is {n}")
        if a == "X" or n > 1:
            dims.append((a, n))
    return dims


def _components(header, byteorder, where) -> tuple[list[bool], np.dtype]:
    """Per-component complex flags and the common item dtype."""
    kinds = [k.strip().upper() for k in _unquote(header.get("IKKF", "REAL")).split(",")]
    for k in kinds:
        if k not in ("REAL", "CPLX"):
            raise InputError(f"{where}: unsupported IKKF {header['IKKF']!r} (expected REAL or CPLX)")
    codes = [c.strip() for c in _unquote(header.get("IRFMT", "")).split(",")]
    if codes == [""]:
        raise InputError(f"{where}: BES3T descriptor has no IRFMT")
    if len(codes) == 1:
        codes = codes * len(kinds)
    if len(codes) != len(kinds):
        raise InputError(f"{where}: IRFMT lists {len(codes)} formats for {len(kinds)} IKKF components")
    if "IIFMT" in header:
        icodes = [c.strip() for c in _unquote(header["IIFMT"]).split(",")]
        if len(icodes) == 1:
            icodes = icodes * len(kinds)
        if len(icodes) != len(kinds):
            raise InputError(f"{where}: IIFMT lists {len(icodes)} formats for {len(kinds)} IKKF components")
        for k, rc, ic in zip(kinds, codes, icodes, strict=True):
            if k == "CPLX" and ic.upper() != rc.upper():
                raise InputError(f"{where}: unsupported: IIFMT {ic!r} differs from IRFMT {rc!r}")
    dtypes = {_item_dtype(c, byteorder, "IRFMT", where) for c in codes}
    if len(dtypes) > 1:
        raise InputError(f"{where}: unsupported: components with different formats (IRFMT {header['IRFMT']!r})")
    return [k == "CPLX" for k in kinds], dtypes.pop()


def _read_data(dta: Path, dims, cplx: list[bool], dtype: np.dtype, header) -> np.ndarray:
    n_points = int(np.prod([n for _, n in dims]))
    per_point = sum(2 if c else 1 for c in cplx)
    expected = n_points * per_point * dtype.itemsize
    try:
        size = dta.stat().st_size
    except OSError as exc:
        raise InputError(f"{dta}: cannot read: {exc.strerror or exc}") from None
    if size != expected:
        shape = " x ".join(f"{a}PTS {n}" for a, n in dims)
        need = f"{shape}, IKKF {_unquote(header.get('IKKF', 'REAL'))}, {dtype.itemsize}-byte items"
        if size < expected:
            raise InputError(f"{dta}: truncated BES3T data: {size} bytes, the descriptor ({need}) needs {expected}")
        raise InputError(f"{dta}: BES3T data size mismatch: {size} bytes, the descriptor ({need}) describes {expected}")
    try:
        raw = np.fromfile(dta, dtype=dtype)
    except OSError as exc:
        raise InputError(f"{dta}: cannot read: {exc.strerror or exc}") from None
    values = raw.astype(np.float64).reshape(n_points, per_point)
    shape = tuple(n for _, n in reversed(dims))
    out, col = [], 0
    for c in cplx:
        if c:
            comp = values[:, col] + 1j * values[:, col + 1]
            col += 2
        else:
            comp = values[:, col]
            col += 1
        out.append(comp.reshape(shape))
    return out[0] if len(out) == 1 else np.stack(out)


def _axis_numbers(header, a, n, stem, byteorder, where) -> np.ndarray | None:
    """Raw axis numbers in the file's unit, or None for a bare index axis."""
    typ = _unquote(header.get(f"{a}TYP", "IDX")).upper()
    if typ == "IGD":
        gf = _companion(stem, f".{a}GF")
        if gf is None:
            raise InputError(f"{where}: {a}TYP is IGD but the axis file {stem.name}.{a}GF is missing")
        dtype = _item_dtype(_unquote(header.get(f"{a}FMT", "D")), byteorder, f"{a}FMT", where)
        size = gf.stat().st_size
        if size != n * dtype.itemsize:
            need = n * dtype.itemsize
            raise InputError(f"{gf}: axis file holds {size} bytes; {a}PTS {n} of {dtype.itemsize} bytes needs {need}")
        return np.fromfile(gf, dtype=dtype).astype(np.float64)
    if f"{a}MIN" not in header and f"{a}WID" not in header:
        return None
    lo = _float(header, f"{a}MIN", where)
    width = _float(header, f"{a}WID", where)
    return np.linspace(lo, lo + width, n) if n > 1 else np.array([lo])


def _make_axis(header, a, n, numbers, notes) -> Axis:
    name = _unquote(header.get(f"{a}NAM"))
    unit = _unquote(header.get(f"{a}UNI"))
    if numbers is None:
        return Axis(label=name or a.lower(), size=n, domain="index")
    time_label = "t" if a == "X" else f"t_{a.lower()}"
    if unit in TIME_UNIT_TO_US:
        return Axis(time_label, n, "time", "us", numbers * TIME_UNIT_TO_US[unit])
    if not unit and (_TIME_NAME.match(name) or (a == "X" and not name)):
        notes.append(f"bes3t: {a} axis has no unit ({a}UNI); assumed ns")
        return Axis(time_label, n, "time", "us", numbers * TIME_UNIT_TO_US["ns"])
    label = name if name and name.lower() != "unknown" else a.lower()
    if unit in _FREQUENCY_UNITS:
        return Axis(label, n, "frequency", unit, numbers)
    if unit.lower() in ("index", "points", "pts"):
        unit = ""
    return Axis(label, n, "index", unit, numbers)


def read(path: str | os.PathLike) -> Spectrum:
    """Read a Bruker BES3T data set.

    Parameters
    ----------
    path : str or path-like
        The ``.DTA`` or ``.DSC`` file (either case) or their common stem.

    Returns
    -------
    Spectrum
        ``format="bes3t"``; time axes in us (see the module docstring for the
        axis-unit rule and the data layout).

    Raises
    ------
    InputError
        Missing ``.DSC``/``.DTA``/``.XGF``, a descriptor that is not BES3T, a
        data file whose size does not match the descriptor, or an unsupported
        format code.
    """
    dsc, dta = dataset_paths(path)
    header = _read_header(dsc)
    stem = dta.with_suffix("")
    byteorder = _byte_order(header, dsc)
    dims = _dimensions(header, dsc)
    cplx, dtype = _components(header, byteorder, dsc)
    data = _read_data(dta, dims, cplx, dtype, header)
    notes: list[str] = []
    axes = [
        _make_axis(header, a, n, _axis_numbers(header, a, n, stem, byteorder, dsc), notes) for a, n in reversed(dims)
    ]
    if len(cplx) > 1:
        axes.insert(0, Axis("component", len(cplx), "index"))
    return Spectrum(
        data=data,
        axes=tuple(axes),
        header=header,
        format="bes3t",
        source=str(dta),
        provenance=(f"read bes3t {dta}", *notes),
    )


# ----------------------------------------------------------------------------- write


def _is_linear(c: np.ndarray) -> bool:
    if c.size < 3:
        return True
    ref = np.linspace(c[0], c[-1], c.size)
    return bool(np.max(np.abs(c - ref)) <= 1e-9 * max(abs(c[-1] - c[0]), np.max(np.abs(c)), 1e-300))


def _axis_keys(a: str, ax: Axis) -> tuple[dict[str, str], np.ndarray | None]:
    """DESC keys for one axis, and the numbers for an ``.XGF`` file when non-uniform."""
    if ax.domain == "time":
        if ax.unit not in TIME_UNIT_TO_US:
            raise InputError(f"cannot write BES3T: time axis {ax.label!r} has unknown unit {ax.unit!r}")
        numbers = ax.coords() * (TIME_UNIT_TO_US[ax.unit] / TIME_UNIT_TO_US["ns"])
        name, unit = "Time", "ns"
    else:
        numbers = ax.coords()
        name, unit = ax.label or a.lower(), ax.unit or "index"
    keys = {f"{a}PTS": str(ax.size), f"{a}MIN": repr(float(numbers[0])) if numbers.size else "0.0"}
    keys[f"{a}WID"] = repr(float(numbers[-1] - numbers[0])) if numbers.size else "0.0"
    gf = None
    if _is_linear(numbers):
        keys[f"{a}TYP"] = "IDX"
    else:
        keys[f"{a}TYP"] = "IGD"
        keys[f"{a}FMT"] = "D"
        keys[f"{a}MIN"] = repr(float(numbers.min()))
        keys[f"{a}WID"] = repr(float(numbers.max() - numbers.min()))
        gf = numbers
    keys[f"{a}NAM"] = f"'{name}'"
    keys[f"{a}UNI"] = f"'{unit}'"
    return keys, gf


def _format_value(key: str, value: str) -> str:
    value = str(value).replace("\r", "").replace("\n", "\\n")  # real newlines would break the layout
    if "\\n" in value:  # a continued value: one line per escaped newline, as Xepr writes them
        chunks = [c for c in re.split(r"(?<=\\n)", value) if c]
        return f"{key}\t\\\n" + "\\\n".join(chunks) + "\n"
    return f"{key}\t{value}\n"


def _dsc_text(desc: dict[str, str], old: dict[str, str]) -> str:
    rule = "*\n" + "*" * 60 + "\n*\n"
    out = ["#DESC\t1.2 * DESCRIPTOR INFORMATION ***********************\n"]
    out += [_format_value(k, v) for k, v in desc.items()]
    out += [rule, "#SPL\t1.2 * STANDARD PARAMETER LAYER\n"]
    devices: dict[str, dict[str, str]] = {}
    for key, value in old.items():
        if key in _STRUCTURAL or key in _DESC_DOC or key in desc or key == "MHL":
            continue
        if "." in key:
            dev, _, k = key.partition(".")
            devices.setdefault(dev, {})[k] = value
        else:
            out.append(_format_value(key, value))
    if devices:
        out += [rule, "#DSL\t1.0 * DEVICE SPECIFIC LAYER\n"]
        for dev, items in devices.items():
            out.append(f"\n.DVC     {dev}, 1.0\n\n")
            out += [_format_value(k, v) for k, v in items.items()]
    if "MHL" in old:
        out += [rule, "#MHL\t1.0 * MANIPULATION HISTORY LAYER by BRUKER\n", old["MHL"].rstrip("\n") + "\n"]
    else:
        out.append(rule)
    return "".join(out)


def write(path: str | os.PathLike, spectrum: Spectrum) -> None:
    """Write a spectrum as a BES3T data set (big-endian float64).

    Writes ``<stem>.DSC`` and ``<stem>.DTA`` (and ``<stem>.XGF``/``.YGF``/``.ZGF``
    for non-uniform axes), each atomically. Time axes are written in ns
    (``XUNI 'ns'``, ``XNAM 'Time'``), so ``deerlab.deerload`` and EasySpin read
    them correctly. The last data axis is X. If the spectrum came from a BES3T
    file, its header keys are kept (``#SPL``, ``#DSL``, ``#MHL`` and the
    documentational ``#DESC`` keys); format and axis keys are regenerated.

    Parameters
    ----------
    path : str or path-like
        The ``.DTA`` or ``.DSC`` path, or the stem. A lower-case suffix gives
        lower-case companion files.
    spectrum : Spectrum
        1-D to 3-D real or complex data.

    Raises
    ------
    InputError
        If the data cannot be stored as BES3T or the directory is not writable.
    """
    p = Path(path)
    if p.suffix.lower() in (".dta", ".dsc"):
        stem, lower = p.with_suffix(""), p.suffix.islower()
    else:
        stem, lower = p, False
    data = np.asarray(spectrum.data)
    if not 1 <= data.ndim <= 3:
        raise InputError(f"{p}: BES3T holds 1-D to 3-D data, not {data.ndim}-D")
    if data.size == 0:
        raise InputError(f"{p}: cannot write empty data")
    if data.dtype.kind not in "biufc":
        raise InputError(f"{p}: cannot write {data.dtype} data as BES3T")
    cplx = np.iscomplexobj(data)

    old = dict(spectrum.header) if spectrum.format == "bes3t" else {}
    desc = {"DSRC": "MAN", "BSEQ": "BIG", "IKKF": "CPLX" if cplx else "REAL", "IRFMT": "D"}
    if cplx:
        desc["IIFMT"] = "D"
    letters = "XYZ"[: data.ndim]
    axis_files = {}
    axis_keys = {}
    for a, ax in zip(letters, reversed(spectrum.axes), strict=True):
        keys, gf = _axis_keys(a, ax)
        axis_keys.update(keys)
        if gf is not None:
            axis_files[a] = gf
    for a in "XYZ":
        desc[f"{a}TYP"] = axis_keys.get(f"{a}TYP", "NODATA")
    for a in letters:
        if f"{a}FMT" in axis_keys:
            desc[f"{a}FMT"] = axis_keys[f"{a}FMT"]
    for a in letters:
        for k in ("PTS", "MIN", "WID"):
            desc[f"{a}{k}"] = axis_keys[f"{a}{k}"]
    for k in _DESC_DOC:
        if k in old and (cplx or not k.startswith("II")):
            desc[k] = old[k]
    for a in letters:
        for k in ("NAM", "UNI"):
            desc[f"{a}{k}"] = axis_keys[f"{a}{k}"]

    payload = np.ascontiguousarray(data, dtype=">c16" if cplx else ">f8").tobytes()
    ext = (lambda e: e.lower()) if lower else (lambda e: e.upper())
    # Entered in this order, replaced in reverse: the data first, the descriptor last.
    files = {Path(str(stem) + ext(".DSC")): _dsc_text(desc, old).encode("latin-1", errors="replace")}
    for a, numbers in axis_files.items():
        files[Path(str(stem) + ext(f".{a}GF"))] = np.asarray(numbers, dtype=">f8").tobytes()
    files[Path(str(stem) + ext(".DTA"))] = payload

    with contextlib.ExitStack() as stack:
        for target, content in files.items():
            tmp = stack.enter_context(atomic_output(target))
            tmp.write_bytes(content)
