"""Readers and writers, one module per format family. Every reader returns a :class:`~mrml.spectrum.Spectrum`.

:func:`read` and :func:`write` dispatch on the file suffix through :data:`FORMATS`
(suffix -> module name under ``mrml.io``). Each format module provides
``read(path) -> Spectrum`` and ``write(path, spectrum) -> None``; modules are
imported only when a file of their kind is met, so ``mrml info`` stays fast.

To add a format, write ``mrml/io/<name>.py`` with ``read``/``write`` and add its
suffixes to :data:`FORMATS`.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from mrml.errors import InputError

__all__ = ["FORMATS", "TIME_UNIT_TO_US", "format_for", "read", "write", "atomic_output"]

#: Lower-case suffix -> format module (``mrml.io.<module>``).
FORMATS: dict[str, str] = {
    # EPR / DEER
    ".dta": "bes3t",
    ".dsc": "bes3t",
    # generic
    ".txt": "text",
    ".dat": "text",
    ".csv": "text",
    ".npy": "npy",
    # NMR
    ".fid": "nmrpipe",
    ".ft": "nmrpipe",
    ".ft1": "nmrpipe",
    ".ft2": "nmrpipe",
    ".ft3": "nmrpipe",
    ".pipe": "nmrpipe",
    # Bruker, Varian, Sparky, HDF5/NeXus and SAXS formats go here.
}

#: Factor that converts a time in the given unit to microseconds (the one time conversion table).
TIME_UNIT_TO_US: dict[str, float] = {
    "ps": 1e-6,
    "ns": 1e-3,
    "us": 1.0,
    "\u00b5s": 1.0,  # micro sign
    "\u03bcs": 1.0,  # Greek mu
    "ms": 1e3,
    "s": 1e6,
}


def format_for(path: str | os.PathLike) -> str:
    """Name of the format module that handles ``path``.

    Parameters
    ----------
    path : str or path-like
        A data file. A BES3T data set may also be named by its stem (no suffix)
        when ``<stem>.DTA`` or ``<stem>.DSC`` exists.

    Returns
    -------
    str
        Module name under ``mrml.io`` (e.g. ``"bes3t"``).

    Raises
    ------
    InputError
        If the suffix is not a known format.
    """
    p = Path(path)
    if (p.is_dir() or p.name in ("fid", "ser")) and (p if p.is_dir() else p.parent).joinpath("acqus").is_file():
        return "bruker"  # an experiment folder, or its fid/ser
    fmt = FORMATS.get(p.suffix.lower())
    if fmt is not None:
        return fmt
    for ext in (".DTA", ".DSC", ".dta", ".dsc"):
        if Path(str(p) + ext).is_file():
            return "bes3t"
    known = ", ".join(sorted(FORMATS))
    raise InputError(f"{p}: unknown file type {p.suffix or '(no suffix)'!r}; known suffixes: {known}")


def _module(fmt: str):
    return importlib.import_module(f"mrml.io.{fmt}")


def read(path: str | os.PathLike):
    """Read a data file into a :class:`~mrml.spectrum.Spectrum`, choosing the reader by suffix.

    Parameters
    ----------
    path : str or path-like
        The file to read (see :data:`FORMATS` for the suffixes understood).

    Returns
    -------
    Spectrum

    Raises
    ------
    InputError
        If the file is missing, of an unknown kind, or unreadable.
    """
    p = Path(path)
    fmt = format_for(p)
    series = fmt == "nmrpipe" and _module(fmt).is_series(p)  # a 3D plane series names its planes by a template
    if fmt not in ("bes3t", "bruker") and not series:  # these resolve their own companion files, stems, folders
        if p.is_dir():
            raise InputError(f"{p}: is a directory, not a {fmt} file")
        if not p.exists():
            raise InputError(f"{p}: no such file")
    return _module(fmt).read(p)


def write(path: str | os.PathLike, spectrum) -> None:
    """Write a :class:`~mrml.spectrum.Spectrum`, choosing the writer by suffix.

    The write is atomic: a reader never sees a half-written file.

    Parameters
    ----------
    path : str or path-like
        Output file; its suffix picks the format.
    spectrum : Spectrum
        The data to write.

    Raises
    ------
    InputError
        If the suffix is not a known format or the spectrum cannot be stored in it.
    """
    p = Path(path)
    fmt = FORMATS.get(p.suffix.lower())
    if fmt is None:
        known = ", ".join(sorted(FORMATS))
        raise InputError(f"{p}: unknown output type {p.suffix or '(no suffix)'!r}; known suffixes: {known}")
    _module(fmt).write(p, spectrum)


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success move it onto ``path``.

    The temporary file lives in the same directory (so :func:`os.replace` is
    atomic) and is removed if the block raises. Nest several of these (e.g. with
    :class:`contextlib.ExitStack`) to write a multi-file data set.

    Parameters
    ----------
    path : str or path-like
        Final destination.

    Yields
    ------
    pathlib.Path
        Where to write; it already exists (empty) with the usual permissions.
    """
    final = Path(path)
    if final.is_dir():
        raise InputError(f"{final}: is a directory")
    if not final.parent.is_dir():
        raise InputError(f"{final}: directory {final.parent} does not exist")
    tmp = final.parent / f".{final.name}.{secrets.token_hex(6)}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # umask applies
    except OSError as exc:
        raise InputError(f"{final}: cannot write: {exc.strerror or exc}") from None
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
