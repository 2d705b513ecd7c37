"""NUS reconstruction stage: NMRPipe plane with sampled indirect points -> full indirect time domain.

Input convention (FID-Net's, DESIGN.md): the direct dimension is processed
(frequency domain, real or complex); the indirect dimension holds only the
sampled complex points, States real/imaginary rows interleaved, in schedule
order. The output holds the full indirect time domain in the same layout, so
NMRPipe or nmrglue can apodise, zero-fill and transform it as usual; the header
is kept with the indirect sizes updated.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from mrml.errors import DataError, InputError
from mrml.io.schedule import validate_schedule
from mrml.spectrum import Axis, Spectrum

METHODS = ("ist", "ist-ve", "net")


@dataclasses.dataclass(frozen=True)
class ReconstructionResult:
    """Summary of one reconstruction."""

    source: str | None
    method: str
    n_sampled: int
    n_points: int
    sampling_fraction: float
    seconds: float
    phase_deg: float | None = None
    band_z: float | None = None  # net: band half-width = band_z x error SD (calibrated for n_points)
    members: np.ndarray | None = dataclasses.field(default=None, repr=False)
    schedule: np.ndarray | None = dataclasses.field(default=None, repr=False)
    warnings: tuple = ()
    #: net: per column, the band's widening for the column's SNR (:func:`mrml.calibration.snr_factor`), >= 1
    band_factor: np.ndarray | None = dataclasses.field(default=None, repr=False)
    #: net with a learned error scale: (K, 2 n_points, columns), see :func:`mrml.stages.nus_net.members`
    sigma: np.ndarray | None = dataclasses.field(default=None, repr=False)

    def summary(self) -> dict:
        from mrml.calibration import factor_summary

        arrays = ("members", "schedule", "band_factor", "sigma")  # not copied (asdict deep-copies every field)
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in arrays}
        if self.band_factor is not None:
            out["band_snr_factor"] = factor_summary(self.band_factor)
        return out

    def column_z(self):
        """Band scale of every column: ``band_z`` times the column's SNR factor (``band_z`` alone without one)."""
        return self.band_z if self.band_factor is None else self.band_z * self.band_factor


def indirect_spectrum(td, *, phase_deg: float = 0.0, window: bool = True, shift: bool = True,
                      axis: int = 0) -> np.ndarray:
    """Real spectrum of complex indirect time-domain data along ``axis``, processed the usual way.

    Sine bell (NMRPipe ``SP -off 0.5 -pow 1``) if ``window``, first point halved,
    zero fill to twice the length, FT, zero-order phase ``phase_deg`` (``PS -p0``),
    real part; ``shift`` puts zero frequency in the middle. Used for figures,
    band calibration and benchmarks, so that they all process alike.
    """
    f = np.moveaxis(np.array(td, dtype=np.complex128), axis, 0)
    n = f.shape[0]
    if window:
        f *= np.sin(np.pi * (0.5 + 0.5 * np.arange(n) / n)).reshape(-1, *[1] * (f.ndim - 1))
    f[0] *= 0.5
    spec = np.fft.fft(f, n=2 * n, axis=0)
    if shift:
        spec = np.fft.fftshift(spec, axes=0)
    return np.moveaxis(np.real(spec * np.exp(1j * np.deg2rad(phase_deg))), 0, axis)


def default_points(schedule) -> int:
    """Full indirect size when none is given: the last sampled index + 1, rounded up to a multiple of 16."""
    last = int(np.max(schedule)) + 1
    return int(-(-last // 16) * 16)


def sampled_points(spectrum: Spectrum, schedule) -> np.ndarray:
    """Complex indirect points of every direct-dimension column, (n_sampled, n_columns).

    A complex direct dimension contributes its real and imaginary parts as separate columns.
    """
    if spectrum.ndim != 2:
        raise DataError(f"NUS reconstruction needs a 2D plane, got a {spectrum.ndim}D data set")
    ind = spectrum.axes[0]
    if ind.domain != "time" or int(spectrum.header.get("FDF1FTFLAG", 0)) != 0:
        raise DataError("the indirect dimension is already in the frequency domain; "
                        "reconstruction needs its time domain (sampled complex points)")
    data = np.asarray(spectrum.data)
    rows = data.shape[0]
    n_sched = len(schedule)
    if rows != 2 * n_sched:
        raise DataError(f"the schedule lists {n_sched} points but the file holds {rows // 2} complex indirect "
                        f"points ({rows} interleaved rows)")
    cols = np.concatenate([data.real, data.imag], axis=1) if np.iscomplexobj(data) else data
    return cols[0::2].astype(np.float64) + 1j * cols[1::2].astype(np.float64)


def reconstruct(spectrum: Spectrum, schedule=None, *, n_points: int | None = None, method: str = "ist",
                n_iter: int = 200, phase_deg: float | None = None,
                direct_phase_deg: float | None = None, model="nusnet") -> tuple[Spectrum, ReconstructionResult]:
    """Reconstruct the full indirect time domain of a NUS plane.

    Parameters
    ----------
    spectrum : Spectrum
        NMRPipe plane as described in the module docstring, or a raw 2D Bruker data set
        (its direct dimension is processed first, :func:`mrml.stages.nmr_direct.bruker_plane`).
    schedule : array_like of int, shape (n_sampled,), optional
        0-based indices of the sampled complex points, in the order of the rows
        (default for Bruker data: the folder's ``nuslist``).
    n_points : int, optional
        Complex points of the full indirect dimension (default: the Bruker ``acqu2s`` TD / 2,
        else :func:`default_points`).
    method : {"ist", "ist-ve", "net"}
        Plain IST, IST with the virtual-echo constraint (needs ``phase_deg``), or the
        network (:mod:`mrml.stages.nus_net`; ``phase_deg`` estimated when not given).
    n_iter : int
        IST iterations.
    phase_deg : float, optional
        Zero-order phase of the indirect dimension (NMRPipe ``PS -p0``) for ``ist-ve`` and ``net``.
    direct_phase_deg : float, optional
        Zero-order phase of the direct dimension of raw Bruker input (default: found automatically).
    model : str or path
        Network for ``net``: shipped name or ``mrml train nusnet`` output folder.

    Returns
    -------
    Spectrum, ReconstructionResult
    """
    from mrml.stages.nus_ist import ist, ist_virtual_echo

    if method not in METHODS:
        raise InputError(f"unknown reconstruction method {method!r}; available: {', '.join(METHODS)}")
    if spectrum.format == "bruker":  # raw Bruker folder: process the direct dimension first
        from mrml.stages.nmr_direct import bruker_plane

        spectrum, info = bruker_plane(spectrum, p0_deg=direct_phase_deg)
        if schedule is None:
            if info["nuslist"] is None:
                raise InputError(f"{spectrum.source}: no nuslist in the folder; give --schedule")
            schedule = info["nuslist"]
        n_points = n_points or info["n_full"]
    if schedule is None:
        raise InputError("a schedule is needed (--schedule)")
    sched = np.asarray(schedule)
    if sched.ndim != 1:
        raise InputError(f"a 2D plane needs a one-column schedule, got {sched.shape[1]} columns")
    if method == "ist-ve" and phase_deg is None:
        raise InputError("--method ist-ve needs the indirect dimension's zero-order phase (--phase P0)")
    n_full = int(n_points) if n_points else default_points(sched)
    validate_schedule(sched, shape=n_full, source="schedule")
    start = time.perf_counter()
    y = sampled_points(spectrum, sched)
    member_fids = band_z = factor = sigma = None
    warnings: list[str] = []
    if method == "ist":
        full = ist(y, sched, n_full, n_iter=n_iter)
    elif method == "ist-ve":
        full = ist_virtual_echo(y, sched, n_full, phase_deg=float(phase_deg), n_iter=n_iter)
    else:
        from mrml.stages import nus_net

        if phase_deg is None:
            phase_deg, share = nus_net.phase_estimate(y, sched, n_full)
            if share > nus_net.RIDGE_SHARE_WARN:
                warnings.append(f"{share:.0%} of the strongest points lie in 5 % of the rows (a ridge artefact?); "
                                f"the indirect phase was estimated with one vote per row ({phase_deg:g} deg); "
                                "check it and give --phase")
        from mrml.models import load_model
        from mrml.calibration import snr_factor
        from mrml.train_nus import band_scale, column_snr

        member_fids, sigma = nus_net.members(y, sched, n_full, phase_deg=float(phase_deg), model=model,
                                             return_sigma=True)
        full = member_fids.mean(axis=0)
        card = load_model(model)[1]
        band_z = band_scale(card["calibration"], n_full, fraction=len(sched) / n_full)
        snr = column_snr(indirect_spectrum(full, phase_deg=float(phase_deg), window=False, shift=False))
        factor = snr_factor(card["calibration"], len(sched) / n_full, snr)
        warnings += nus_net.sampling_warning(card, len(sched) / n_full)
    data = np.asarray(spectrum.data)
    n_cols = data.shape[1]
    out = np.empty((2 * n_full, full.shape[1]), dtype=np.float64)
    out[0::2], out[1::2] = full.real, full.imag
    if np.iscomplexobj(data):
        out = out[:, :n_cols] + 1j * out[:, n_cols:]
    out = out.astype(data.dtype)
    ind = spectrum.axes[0]
    steps = np.arange(2 * n_full) // 2
    axis0 = Axis(label=ind.label, size=2 * n_full, domain="time", unit="us",
                 values=steps / ind.sw_hz * 1e6 if ind.sw_hz else steps * 1.0,
                 sw_hz=ind.sw_hz, obs_mhz=ind.obs_mhz, car_hz=ind.car_hz)
    result = spectrum.replace(data=out, axes=(axis0, *spectrum.axes[1:]),
                              step=f"reconstruct: {method}, {len(sched)} of {n_full} complex points")
    seconds = time.perf_counter() - start
    return result, ReconstructionResult(spectrum.source, method, len(sched), n_full, len(sched) / n_full, seconds,
                                        None if phase_deg is None else float(phase_deg), band_z, member_fids,
                                        sched, tuple(warnings), factor, sigma)
