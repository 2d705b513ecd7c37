"""Shared indirect processing of the NUS stages: a line lands where it should, absorptive after the phase."""

import numpy as np

from mrml.stages.nus import indirect_spectrum


def test_indirect_spectrum_puts_a_phased_line_at_its_frequency():
    n, k = 64, 10  # 10 cycles over the window: bin 20 of 128 after zero filling
    t = np.arange(n)
    fid = np.exp(2j * np.pi * k * t / n - 0.02 * t) * np.exp(-1j * np.deg2rad(70.0))
    spec = indirect_spectrum(fid, phase_deg=70.0, shift=False)
    assert spec.shape == (2 * n,) and int(np.argmax(spec)) == 2 * k
    assert spec[2 * k] > 5 * abs(spec.min())  # absorptive: a positive peak, small dispersive wings
    shifted = indirect_spectrum(fid, phase_deg=70.0)
    assert int(np.argmax(shifted)) == n + 2 * k
    cols = indirect_spectrum(np.stack([fid, 2 * fid]), phase_deg=70.0, window=False, axis=1)
    assert cols.shape == (2, 2 * n) and np.allclose(cols[1], 2 * cols[0])
