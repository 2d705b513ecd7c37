"""Network NUS reconstruction: a shipped ``nusnet`` model applied column by column.

Every point of the processed direct dimension is one column of the indirect
time domain. Columns are rotated by the indirect zero-order phase, so the
network sees (nearly) absorptive signals as in training, reconstructed by each
member of the model (one, or an ensemble), and rotated back. The phase is what
the virtual-echo method also needs; when it is not given it is estimated from
the zero-filled spectrum (:func:`estimate_phase_deg`).

The network's error SD of each spectral point (its learned error scale, or an
ensemble's spread, or both), scaled by the factor calibrated on held-out
simulations when the model was trained (:func:`mrml.train_nus.band_scale` of the
card's calibration), is the per-point uncertainty of the spectrum (:func:`spectral_sd`).
"""

from __future__ import annotations

import numpy as np

from mrml.stages.nus_ist import _columns


#: Share of the strongest 1 % of zero-filled spectral points in 5 % of the rows above which the phase
#: estimate is flagged: peaks spread over many rows (0.13-0.40 on simulated HSQC planes, 0.19-0.26 on the
#: real methyl HMQC), a ridge across the direct dimension (axial or edge artefact) fills a few.
RIDGE_SHARE_WARN = 0.5
#: Fewest direct-dimension columns for the ridge test: with a few columns a single peak runs through all of
#: them and looks like a ridge, so the share is not computed (reported as 0).
MIN_RIDGE_COLUMNS = 16


def estimate_phase_deg(sampled, schedule, n_full: int, *, step_deg: float = 1.0) -> float:
    """Zero-order phase (NMRPipe ``PS -p0`` convention) that makes the zero-filled spectrum most positive.

    Sampling artefacts have random phases and largely cancel in the sum; the
    peaks, which share the phase, dominate it. Meant for spectra whose peaks are
    mostly positive (HSQC, HNCA); give the phase explicitly otherwise. See
    :func:`phase_estimate` for spectra with a ridge artefact.
    """
    return phase_estimate(sampled, schedule, n_full, step_deg=step_deg)[0]


def phase_estimate(sampled, schedule, n_full: int, *, step_deg: float = 1.0) -> tuple[float, float]:
    """:func:`estimate_phase_deg` and the share of its strongest points that lie in 5 % of the rows.

    A share above :data:`RIDGE_SHARE_WARN` means a ridge along the direct dimension
    (an axial or edge artefact), not the peaks, may dominate the magnitude-weighted
    sum. The phase is then taken from one unit vote per row instead (the direction
    of each row's sum over its strongest points), so a ridge counts as its few rows.
    """
    y, idx, _ = _columns(sampled, schedule, n_full)
    zf = np.zeros((n_full, y.shape[1]), dtype=np.complex128)
    zf[idx] = y
    zf[0] *= 0.5
    return spectrum_phase(np.fft.fft(zf, n=2 * n_full, axis=0), step_deg=step_deg)


def spectrum_phase(spec, *, step_deg: float = 1.0, warn_share: float = RIDGE_SHARE_WARN) -> tuple[float, float]:
    """Zero-order phase of a complex spectrum (rows = indirect frequencies, columns = direct points) and the
    share of its strongest 1 % of points that lie in 5 % of the rows.

    The phase makes the sum over the strongest points most positive; where the share exceeds
    ``warn_share``, it comes from one unit vote per row instead (see :func:`phase_estimate`).
    With fewer than :data:`MIN_RIDGE_COLUMNS` columns the share is reported as 0.
    """
    top = _strongest(spec)
    if spec.shape[1] < MIN_RIDGE_COLUMNS:
        return _phase_of(spec[top].sum(), step_deg), 0.0
    per_row = np.sort(top.sum(axis=1))[::-1]
    share = float(per_row[:max(1, round(0.05 * per_row.size))].sum() / max(int(top.sum()), 1))
    if share <= warn_share:
        return _phase_of(spec[top].sum(), step_deg), share
    rows = np.where(top, spec, 0).sum(axis=1)
    rows = rows[np.abs(rows) > 0]
    return _phase_of((rows / np.abs(rows)).sum(), step_deg), share


def _strongest(spec) -> np.ndarray:
    """Mask of the top 1 % of magnitudes."""
    mag = np.abs(spec)
    return mag >= np.quantile(mag, 0.99)


def sampling_warning(card: dict, fraction: float) -> list[str]:
    """A warning (list of at most one) when ``fraction`` lies outside the sampling fractions that a NUS
    network's training simulator drew (the card's simulator, with the card's configuration)."""
    from simulators import get_simulator

    train = card["training"]
    frac = get_simulator(train["simulator"], train["simulator_config"]).param("sampling_frac")
    if frac.low <= fraction <= frac.high:
        return []
    return [f"sampling fraction {fraction:.1%} lies outside the {frac.low:.0%}-{frac.high:.0%} the network was "
            "trained on; its reconstruction and band are extrapolated"]


def _phase_of(total, step_deg: float) -> float:
    """The phase ``-arg(total)`` in degrees, rounded to ``step_deg``, in [0, 360)."""
    return float(np.round(-np.degrees(np.angle(total)) / step_deg) * step_deg % 360.0)


def members(sampled, schedule, n_full: int, *, phase_deg: float, model="nusnet", device=None,
            batch_size: int | None = None, return_sigma: bool = False):
    """Reconstructions of every ensemble member, complex (K, n_full, n_cols), measured points kept.

    With ``return_sigma`` also the network's learned error scales (K, 2 n_full, n_cols), the SD of each
    part of the complex spectrum's error (zero fill x2, no window, unshifted), or None for an ensemble
    without them.

    Parameters
    ----------
    sampled : array_like, complex, shape (n_sampled,) or (n_sampled, n_cols)
        Measured complex points in schedule order.
    schedule : array_like of int
        0-based indices of the measured points.
    n_full : int
        Complex points of the full indirect time domain.
    phase_deg : float
        Zero-order phase of the indirect dimension (NMRPipe ``PS -p0``).
    model : str or path
        Shipped model name or a ``mrml train nusnet`` output folder.
    """
    from mrml.models import load_model
    from mrml.train_nus import predict

    y, idx, _ = _columns(sampled, schedule, n_full)
    net, _card = load_model(model, device=device)
    rot = np.exp(1j * np.deg2rad(phase_deg))
    full = np.zeros((y.shape[1], n_full), dtype=np.complex128)
    full[:, idx] = (y * rot).T
    mask = np.zeros((y.shape[1], n_full), dtype=np.float32)
    mask[:, idx] = 1.0
    inp = np.stack([full.real, full.imag, mask], axis=1).astype(np.float32)
    out, sigma = predict(net, inp, batch_size=batch_size, return_sigma=True)  # (K, n_cols, 2, n_full)
    rec = (out[:, :, 0] + 1j * out[:, :, 1]).transpose(0, 2, 1) / rot
    rec[:, idx] = y[None]
    if not return_sigma:
        return rec
    return rec, None if sigma is None else sigma.transpose(0, 2, 1)


def spectral_sd(member_fids, *, z: float = 1.0, phase_deg: float = 0.0, sigmas=None) -> np.ndarray:
    """``z`` times the SD over members of the real spectrum (no window, zero fill x2, FT, phase; unshifted).

    ``member_fids``: complex (K, n_full, ...). Returns (2 n_full, ...). With a network's learned error
    scales ``sigmas`` (K, 2 n_full, ...), the SD of each part of every member's complex spectrum error, the
    SD is ``sqrt(mean(sigma^2) + spread^2)`` (the real part after any phase rotation has SD sigma).
    """
    from mrml.stages.nus import indirect_spectrum

    spec = indirect_spectrum(member_fids, phase_deg=phase_deg, window=False, shift=False, axis=1)
    if sigmas is None:
        return z * spec.std(axis=0)
    return z * np.sqrt(np.mean(np.square(sigmas), axis=0) + spec.var(axis=0))


def band_halfwidth(member_fids, *, phase_deg: float, z, sigmas=None) -> np.ndarray:
    """Calibrated band half-width of the real indirect spectrum (no window, zero fill x2), zero frequency in
    the middle as :func:`mrml.stages.nus.indirect_spectrum` with ``shift=True`` puts it: (2 n_full, n_cols)."""
    sd = spectral_sd(member_fids, phase_deg=phase_deg, sigmas=sigmas)
    z = np.asarray(z, dtype=float)
    return np.fft.fftshift(sd, axes=0) * (z[:sd.shape[1]] if z.ndim else z)


def _nmrpipe_bins(header: dict, n_full: int) -> tuple[np.ndarray, float]:
    """Where FFT bin k (zero fill x2) of the indirect dimension lands after :func:`uncertainty_plane`'s
    nmrglue processing, and the processing's gain on a spectrum's magnitude.

    Found by processing probe signals ``exp(2 pi i k t / 2n)`` rather than by re-deriving NMRPipe's sign and
    shift conventions (as :func:`mrml.stages.nus3d._bin_order` does for the 3D layout).
    """
    t = np.arange(n_full)
    where, gain = [], 1.0
    for k in (1, 2):
        spec = _process_indirect(header, np.exp(2j * np.pi * k * t / (2 * n_full))[:, None], 0.0)[0][:, 0]
        where.append(int(np.argmax(spec)))
        gain = float(spec.max()) / n_full
    step = where[1] - where[0]  # +1 or -1
    return (where[0] + step * (np.arange(2 * n_full) - 1)) % (2 * n_full), gain


def _process_indirect(header: dict, fid, phase_deg: float) -> tuple[np.ndarray, dict]:
    """Real spectrum of complex indirect time-domain columns ``fid`` (n_full, n_cols) processed with nmrglue as a
    user would without apodisation (zero fill x2, FT, ``PS -p0``, imaginaries deleted), (2 n_full, n_cols),
    and its NMRPipe header."""
    import nmrglue as ng

    from mrml.io.nmrpipe import _resized_header

    plane = np.empty((2 * fid.shape[0], fid.shape[1]), dtype=np.float32)
    plane[0::2], plane[1::2] = fid.real, fid.imag
    d = _resized_header(dict(header), plane)
    d, data = ng.pipe_proc.tp(d, plane)
    d, data = ng.pipe_proc.zf(d, data)
    d, data = ng.pipe_proc.ft(d, data, auto=True)
    d, data = ng.pipe_proc.ps(d, data, p0=float(phase_deg), p1=0.0)
    d, data = ng.pipe_proc.di(d, data)
    d, data = ng.pipe_proc.tp(d, data)
    return np.asarray(data, dtype=np.float64), d


def uncertainty_plane(result, member_fids, *, phase_deg: float, z, sigmas=None):
    """Half-width of the calibrated band at every point of the indirect spectrum, as an NMRPipe plane.

    Each member's reconstruction is processed along the indirect dimension with
    nmrglue as a user would without apodisation (zero fill x2, FT, ``PS -p0``,
    imaginaries deleted); the SD over members, combined with the network's learned
    error scales ``sigmas`` where it has them (:func:`spectral_sd`), times ``z``
    (the scale that made the band cover its nominal share of held-out
    simulations) is the half-width of each point's band. The direct dimension's
    real part is used.

    Parameters
    ----------
    result : Spectrum
        The reconstructed plane (:func:`mrml.stages.nus.reconstruct`), NMRPipe header kept.
    member_fids : ndarray, complex (K, n_full, n_columns)
        Member reconstructions from :func:`members` (columns as in :func:`mrml.stages.nus.sampled_points`).
    sigmas : ndarray, (K, 2 n_full, n_columns), optional
        The network's learned error scales from :func:`members` (``return_sigma``).
    phase_deg : float
        Indirect zero-order phase.
    z : float or array_like
        Band scale from the model card's calibration: one, or one per column of ``member_fids``
        (:meth:`mrml.stages.nus.ReconstructionResult.column_z`).
    """
    from mrml.io.nmrpipe import from_pipe

    n_cols = np.asarray(result.data).shape[1]
    spectra, dic = [], None
    for fid in np.asarray(member_fids)[:, :, :n_cols]:
        data, dic = _process_indirect(result.header, fid, phase_deg)
        spectra.append(data)
    var = np.var(spectra, axis=0)
    if sigmas is not None:
        order, gain = _nmrpipe_bins(result.header, np.shape(member_fids)[1])
        learned = np.empty_like(var)
        learned[order] = np.mean(np.square(np.asarray(sigmas)[:, :, :n_cols]), axis=0) * gain ** 2
        var = var + learned
    z = np.asarray(z, dtype=float)
    z = z[:n_cols] if z.ndim else z
    sd = z * np.sqrt(var)
    scale = f"{z.min():.3g}-{z.max():.3g} per column" if z.ndim and z.min() != z.max() else f"{z.max():.3g}"
    what = "ensemble SD" if sigmas is None else "learned error SD"
    return from_pipe(dic, sd.astype(np.float32), source=result.source,
                     step=f"uncertainty: {what} x {scale} (calibrated) of the indirect spectrum")
