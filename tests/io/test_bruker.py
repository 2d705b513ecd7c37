"""Bruker experiment folders through nmrglue: axes, dispatch, bad folders."""

import shutil

import numpy as np
import pytest

from mrml.errors import InputError
from mrml.io import format_for, read, write
from tests.conftest import REALDATA

HSQC = REALDATA / "nmr" / "bruker_parser_hsqc"
needs_hsqc = pytest.mark.skipif(not (HSQC / "acqus").exists(), reason="real data not present")


@needs_hsqc
def test_reads_the_real_hsqc_folder_and_its_ser_file():
    sp = read(HSQC)
    assert sp.format == "bruker" and sp.shape == (512, 512) and np.iscomplexobj(sp.data)
    n15, h1 = sp.axes
    assert (n15.label, h1.label) == ("15N", "1H")
    assert h1.sw_hz == pytest.approx(9615.38, abs=0.01) and h1.obs_mhz == pytest.approx(600.133, abs=1e-3)
    assert n15.coords()[1] == n15.coords()[0]  # echo/antiecho row pairs share a time
    assert sp.header["encodings"][0] == "echo-antiecho"
    assert format_for(HSQC / "ser") == "bruker"
    assert read(HSQC / "ser").shape == sp.shape


@needs_hsqc
def test_truncated_ser_missing_acqus_and_writing_are_refused(tmp_path):
    d = tmp_path / "exp"
    shutil.copytree(HSQC, d)
    raw = (d / "ser").read_bytes()
    (d / "ser").write_bytes(raw[: len(raw) // 3])
    with pytest.raises(InputError, match="truncated|unreadable"):
        read(d)
    (d / "acqus").unlink()
    with pytest.raises(InputError):
        read(d)
    from mrml.io import bruker

    with pytest.raises(InputError, match="not supported"):
        bruker.write(tmp_path / "ser", read(HSQC))
    with pytest.raises(InputError, match="unknown output type"):
        write(tmp_path / "ser", read(HSQC))
