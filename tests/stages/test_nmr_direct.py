"""Bruker raw data into NMRPipe's layout: echo/antiecho conversion checked against NMRPipe's own conversion."""

import numpy as np
import pytest

from mrml.errors import DataError
from mrml.io import read
from mrml.stages.nmr_direct import best_zero_order_phase, to_states
from tests.conftest import REALDATA

HSQC = REALDATA / "nmr" / "bruker_parser_hsqc"


@pytest.mark.skipif(not (HSQC / "test.fid").exists(), reason="real data not present")
def test_echo_antiecho_conversion_matches_nmrpipes_conversion_of_the_same_ser():
    raw = read(HSQC)
    states = to_states(np.asarray(raw.data), raw.header["encodings"][0])
    pipe = read(HSQC / "test.fid")  # the depositor's bruk2pipe output of the same data
    assert np.allclose(states, pipe.data, rtol=1e-5, atol=1e-3 * np.abs(pipe.data).max())
    with pytest.raises(DataError, match="not supported"):
        to_states(np.asarray(raw.data), "tppi")


def test_zero_order_phase_of_a_dispersive_line_ignores_the_solvent():
    f = np.fft.fftfreq(1024)
    lines = 1.0 / (0.002 - 1j * (f - 0.1)) + 0.5 / (0.002 - 1j * (f + 0.2))  # absorptive in the real part
    solvent = 5.0 / (0.002 - 1j * (f - 0.0)) * np.exp(1j * 1.0)  # big, at another phase
    rotated = (lines + solvent) * np.exp(-1j * np.deg2rad(70.0))
    # approximate (5-8 degrees here and on the real HSQC); exact phases can be given with --direct-phase
    assert best_zero_order_phase(rotated) == pytest.approx(70.0, abs=8.0)
