"""Iterative soft thresholding (IST) reconstruction of non-uniformly sampled indirect dimensions.

The classical baseline for NUS (as in hmsIST, Hyberts et al., J. Biomol. NMR
2012): starting from the zero-filled measured points, repeat

1. Fourier transform the residual (measured minus current model at the sampled
   points, zero elsewhere), zero-filled to twice the full length;
2. move every spectral point whose magnitude exceeds the current threshold
   into the model spectrum, by the amount it exceeds it (soft thresholding);
3. lower the threshold geometrically from the largest peak towards
   ``final_threshold`` of it.

Columns (points of the processed direct dimension) are independent and
processed together as one array, so one call reconstructs a whole 2D plane.
"""

from __future__ import annotations

import numpy as np


def _columns(sampled, schedule, n_full: int):
    """Sampled points as complex columns (n_sampled, n_cols), checked schedule, and whether the input was 1D."""
    y = np.asarray(sampled)
    one = y.ndim == 1
    y = y.reshape(y.shape[0], -1).astype(np.complex128)
    idx = np.asarray(schedule, dtype=np.int64).ravel()
    if idx.size != y.shape[0]:
        raise ValueError(f"schedule has {idx.size} points but the data have {y.shape[0]} sampled rows")
    if idx.min() < 0 or idx.max() >= n_full:
        raise ValueError(f"schedule indices must lie in [0, {n_full})")
    return y, idx, one


def ist(sampled, schedule, n_full: int, *, n_iter: int = 200, final_threshold: float = 0.01) -> np.ndarray:
    """Reconstruct the full indirect time domain of one or many columns by IST.

    Parameters
    ----------
    sampled : array_like, complex, shape (n_sampled,) or (n_sampled, n_cols)
        Measured complex points of the indirect time domain, in schedule order.
    schedule : array_like of int, shape (n_sampled,)
        0-based indices of the measured points in the full indirect time domain.
    n_full : int
        Complex points of the full indirect time domain.
    n_iter : int
        Iterations (hmsIST uses 200-400).
    final_threshold : float
        Threshold of the last iteration as a fraction of each column's largest
        residual peak.

    Returns
    -------
    numpy.ndarray, complex128, shape (n_full,) or (n_full, n_cols)
        Reconstructed time domain, with the measured points kept exactly.
    """
    y, idx, one = _columns(sampled, schedule, n_full)
    if not 0 < final_threshold < 1:
        raise ValueError("final_threshold must lie between 0 and 1")
    n_fft = 2 * n_full
    measured = np.zeros((n_full, y.shape[1]), dtype=np.complex128)
    measured[idx] = y
    model = np.zeros((n_fft, y.shape[1]), dtype=np.complex128)
    resid = np.fft.fft(measured, n=n_fft, axis=0)
    thr = np.abs(resid).max(axis=0)  # per column
    shrink = final_threshold ** (1.0 / max(n_iter - 1, 1))
    for _ in range(n_iter):
        mag = np.abs(resid)
        excess = np.maximum(mag - thr, 0.0)
        model += resid * (excess / np.where(mag > 0, mag, 1.0))
        fid = np.fft.ifft(model, axis=0)[:n_full]
        gap = np.zeros_like(measured)
        gap[idx] = y - fid[idx]
        resid = np.fft.fft(gap, n=n_fft, axis=0)
        thr = thr * shrink
    fid = np.fft.ifft(model, axis=0)[:n_full]
    fid[idx] = y  # data consistency: measured points as measured
    return fid[:, 0] if one else fid


def ist_virtual_echo(sampled, schedule, n_full: int, *, phase_deg: float, n_iter: int = 200,
                     final_threshold: float = 0.01) -> np.ndarray:
    """IST with the virtual-echo constraint, for indirect dimensions of known phase.

    Once phased, a signal that starts at t = 0 satisfies ``s(-t) = conj(s(t))``
    for its mirror image, and the Fourier transform of this virtual echo is real
    (pure absorption; Mayzel, Kazimierczuk and Orekhov, Chem. Commun. 2014).
    Each measured point then fixes its mirror point too, and only a real
    spectrum is fitted: twice the data for half the unknowns of plain IST.

    Parameters
    ----------
    sampled, schedule, n_full, n_iter, final_threshold
        As for :func:`ist`.
    phase_deg : float
        Zero-order phase of the indirect dimension in NMRPipe's convention
        (``PS -p0``: the spectrum is multiplied by ``exp(i p0)``); first-order
        phase must be zero (the first point at t = 0, no half-dwell delay).

    Returns
    -------
    numpy.ndarray, complex128
        Reconstructed time domain in the input's phase, measured points kept.
    """
    y0, idx, one = _columns(sampled, schedule, n_full)
    rot = np.exp(1j * np.deg2rad(phase_deg))
    y = y0 * rot
    # the echo spans -(n_full - 1)..(n_full - 1); a domain twice as long lets the model continue it
    # beyond the window (as plain IST's zero filling does) instead of wrapping round at the edges
    n_fft = 4 * n_full
    echo = np.zeros((n_fft, y.shape[1]), dtype=np.complex128)
    known = np.zeros(n_fft, dtype=bool)
    echo[idx] = y
    pos = idx > 0
    echo[n_fft - idx[pos]] = np.conj(y[pos])
    if np.any(~pos):
        echo[0] = echo[0].real  # t = 0 is its own mirror
    known[idx] = True
    known[n_fft - idx[pos]] = True
    model = np.zeros(echo.shape, dtype=np.float64)
    resid = np.fft.fft(echo, axis=0).real
    thr = np.abs(resid).max(axis=0)
    shrink = final_threshold ** (1.0 / max(n_iter - 1, 1))
    for _ in range(n_iter):
        model += np.sign(resid) * np.maximum(np.abs(resid) - thr, 0.0)
        fid = np.fft.ifft(model, axis=0)
        gap = np.zeros_like(echo)
        gap[known] = echo[known] - fid[known]
        resid = np.fft.fft(gap, axis=0).real
        thr = thr * shrink
    fid = np.fft.ifft(model, axis=0)[:n_full] / rot
    fid[idx] = y0
    return fid[:, 0] if one else fid


def ist_hypercomplex(sampled, schedule, shape, *, n_iter: int = 200, final_threshold: float = 0.01) -> np.ndarray:
    """IST over two indirect dimensions (3D experiments), States quadrature in both.

    Each sampled pair ``(i, j)`` of the (n1, n2) grid carries four real values per
    direct-dimension point: ``RR, RI, IR, II`` (cosine/sine in t1, cosine/sine in t2).
    They combine into two complex 2D signals with one peak per resonance each,

        S+ = (RR - II) + i (IR + RI) = exp(i (w1 t1 + w2 t2)),
        S- = (RR + II) + i (RI - IR) = exp(i (w2 t2 - w1 t1)),

    which are reconstructed by 2D IST (FFT zero-filled x2 in both dimensions,
    soft thresholding, as :func:`ist`) and mapped back exactly.

    Parameters
    ----------
    sampled : array_like, real, shape (n_sampled, 4, n_cols) or (n_sampled, 4)
        ``RR, RI, IR, II`` of every sampled pair, in schedule order.
    schedule : array_like of int, shape (n_sampled, 2)
        0-based ``(i, j)`` of the sampled pairs.
    shape : (int, int)
        Complex points (n1, n2) of the full indirect dimensions.

    Returns
    -------
    numpy.ndarray, float64, shape (n1, n2, 4, n_cols) (or (n1, n2, 4))
        The full hypercomplex time domain; measured pairs kept exactly.
    """
    y = np.asarray(sampled, dtype=np.float64)
    one = y.ndim == 2
    if one:
        y = y[..., None]
    idx = np.asarray(schedule, dtype=np.int64)
    n1, n2 = (int(s) for s in shape)
    if y.ndim != 3 or y.shape[1] != 4:
        raise ValueError(f"sampled must be (n_sampled, 4, n_cols) with RR, RI, IR, II; got {y.shape}")
    if idx.ndim != 2 or idx.shape != (y.shape[0], 2):
        raise ValueError(f"schedule must list (i, j) for each of the {y.shape[0]} sampled pairs")
    if idx.min() < 0 or idx[:, 0].max() >= n1 or idx[:, 1].max() >= n2:
        raise ValueError(f"schedule pairs must lie in [0, {n1}) x [0, {n2})")
    if not 0 < final_threshold < 1:
        raise ValueError("final_threshold must lie between 0 and 1")
    rr, ri, ir, ii = (y[:, k] for k in range(4))
    plus = (rr - ii) + 1j * (ir + ri)
    minus = (rr + ii) + 1j * (ri - ir)
    full = [_ist_2d(s, idx, n1, n2, n_iter, final_threshold) for s in (plus, minus)]  # (n1, n2, cols)
    a, b = (full[0] + full[1]) / 2, (full[0] - full[1]) / 2j  # A = RR + i RI, B = IR + i II
    out = np.stack([a.real, a.imag, b.real, b.imag], axis=2)
    out[idx[:, 0], idx[:, 1]] = y  # data consistency
    return out[..., 0] if one else out


def _ist_2d(y, idx, n1: int, n2: int, n_iter: int, final_threshold: float) -> np.ndarray:
    """2D IST of complex columns ``y`` (n_sampled, cols) sampled at ``idx`` on an (n1, n2) grid."""
    measured = np.zeros((n1, n2, y.shape[1]), dtype=np.complex128)
    measured[idx[:, 0], idx[:, 1]] = y
    size = (2 * n1, 2 * n2)
    model = np.zeros((*size, y.shape[1]), dtype=np.complex128)
    resid = np.fft.fft2(measured, s=size, axes=(0, 1))
    thr = np.abs(resid).max(axis=(0, 1))
    shrink = final_threshold ** (1.0 / max(n_iter - 1, 1))
    for _ in range(n_iter):
        mag = np.abs(resid)
        model += resid * (np.maximum(mag - thr, 0.0) / np.where(mag > 0, mag, 1.0))
        fid = np.fft.ifft2(model, axes=(0, 1))[:n1, :n2]
        gap = np.zeros_like(measured)
        gap[idx[:, 0], idx[:, 1]] = y - fid[idx[:, 0], idx[:, 1]]
        resid = np.fft.fft2(gap, s=size, axes=(0, 1))
        thr = thr * shrink
    return np.fft.ifft2(model, axes=(0, 1))[:n1, :n2]
