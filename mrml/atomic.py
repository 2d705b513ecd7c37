"""Atomic output for results: refuse to overwrite unless asked, then write through a temporary file.

The temporary-file mechanics live in :func:`mrml.io.atomic_output` (one implementation).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from mrml.errors import InputError


@contextlib.contextmanager
def atomic_path(path, *, overwrite: bool = True):
    """Yield a temporary path beside ``path`` that replaces it on success (folders are created)."""
    from mrml.io import atomic_output

    target = Path(path)
    if target.exists() and not overwrite:
        raise InputError(f"{target} exists; use --overwrite to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(target) as tmp:
        yield tmp


def write_text(path, text: str, *, overwrite: bool = True) -> None:
    """Atomically write a text file."""
    with atomic_path(path, overwrite=overwrite) as tmp:
        tmp.write_text(text)
