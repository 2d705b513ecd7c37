"""NUS reconstruction of 3D experiments (HNCA, HN(CO)CA): two indirect dimensions sampled together.

Input convention (NMRPipe's ``nusExpand.tcl`` output): a 3D NMRPipe file
``(2 n1, 2 n2, n_x)`` whose direct dimension (last) is processed, and whose two
indirect dimensions are the full States time domains, real and imaginary
rows interleaved, with zeros at the pairs that were not sampled. The
schedule lists the sampled pairs, 0-based, in the column order of a Bruker
``nuslist``: column 1 indexes the first indirect dimension (the inner loop of
the acquisition: Bruker ``acqu2s``, NMRPipe Y, axis 1 of the array), column 2
the second (``acqu3s``, NMRPipe Z, axis 0). This is the order in which NMRFx reads
a nuslist and NESTA-NMR documents it (per pair, the first dimension's
quadrature component varies fastest). Internally pairs are kept in array axis
order ``(z, y)``. The output has the same layout and header with every pair filled.

Every direct-dimension point carries, for each sampled pair, the four States
components RR, RI, IR, II. They map exactly onto two complex planes with one
peak per resonance (:func:`mrml.stages.nus_ist.ist_hypercomplex`), which
2D IST or the ``nusnet3d`` network reconstruct and which map back exactly.
The network's learned error scale, calibrated on held-out simulations, gives
the band of the processed spectrum (:func:`band_cube`).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from mrml.errors import DataError, InputError
from mrml.io.schedule import validate_schedule
from mrml.spectrum import Spectrum

METHODS = ("net", "ist")


def _check(spectrum: Spectrum, schedule) -> tuple[np.ndarray, int, int]:
    if spectrum.ndim != 3:
        raise DataError(f"3D NUS reconstruction needs a 3D data set, got {spectrum.ndim}D")
    hdr = spectrum.header
    for k, flag in ((0, "FDF3FTFLAG"), (1, "FDF1FTFLAG")):
        if spectrum.axes[k].domain != "time" or int(hdr.get(flag, 0)) != 0:
            raise DataError(f"indirect dimension {spectrum.axes[k].label} is already in the frequency domain; "
                            "reconstruction needs its time domain")
    rows1, rows2 = np.asarray(spectrum.data).shape[:2]
    if rows1 % 2 or rows2 % 2:
        raise DataError(f"indirect dimensions of {rows1} x {rows2} rows are not States (real/imaginary pairs)")
    sched = np.asarray(schedule)
    if sched.ndim != 2 or sched.shape[1] != 2:
        raise InputError("a 3D data set needs a two-column schedule (one sampled (t1, t2) pair per line)")
    n1, n2 = rows1 // 2, rows2 // 2  # Z (axis 0), Y (axis 1)
    checked = validate_schedule(sched, shape=(n2, n1), source="schedule")  # nuslist columns: Y, Z
    return checked[:, ::-1], n1, n2


def _pairs(data, zy) -> np.ndarray:
    cols = _columns(np.asarray(data))
    i, j = 2 * zy[:, 0], 2 * zy[:, 1]
    return np.stack([cols[i, j], cols[i, j + 1], cols[i + 1, j], cols[i + 1, j + 1]], axis=1).astype(np.float64)


def _columns(data: np.ndarray) -> np.ndarray:
    """Real (2 n1, 2 n2, C) columns: a complex direct dimension gives its real, then imaginary parts."""
    return np.concatenate([data.real, data.imag], axis=2) if np.iscomplexobj(data) else data


def sampled_pairs(spectrum: Spectrum, schedule) -> np.ndarray:
    """RR, RI, IR, II (Z component first) of every sampled pair and direct-dimension column, float64 (n_sampled, 4, C).

    ``schedule``: (n_sampled, 2) pairs in nuslist column order (Y, Z).
    """
    zy, _, _ = _check(spectrum, schedule)
    return _pairs(spectrum.data, zy)


def to_planes(full) -> tuple[np.ndarray, np.ndarray]:
    """``S+ = (RR - II) + i (IR + RI)`` and ``S- = (RR + II) + i (RI - IR)`` from (..., 4, C) components."""
    rr, ri, ir, ii = (np.take(full, k, axis=-2) for k in range(4))
    return (rr - ii) + 1j * (ir + ri), (rr + ii) + 1j * (ri - ir)


def from_planes(plus, minus) -> np.ndarray:
    """Inverse of :func:`to_planes`: (..., 4, C) components RR, RI, IR, II."""
    a, b = (plus + minus) / 2, (plus - minus) / 2j  # A = RR + i RI, B = IR + i II
    return np.stack([a.real, a.imag, b.real, b.imag], axis=-2)


def interleave(full) -> np.ndarray:
    """(n1, n2, 4, C) components RR, RI, IR, II as NMRPipe's interleaved (2 n1, 2 n2, C) rows."""
    n1, n2, _, c = full.shape
    cube = np.empty((2 * n1, 2 * n2, c), dtype=np.result_type(full, np.float64))
    cube[0::2, 0::2], cube[0::2, 1::2] = full[:, :, 0], full[:, :, 1]
    cube[1::2, 0::2], cube[1::2, 1::2] = full[:, :, 2], full[:, :, 3]
    return cube


#: Share of the strongest 1 % of points in 5 % of the indirect frequency pairs above which a plane's phase comes
#: from one vote per pair, with a warning. Measured: 0.12-0.14 on a simulated 120-residue HNCA cube (full and
#: 12.5-37.5 % sampled; 0.28 without noise) and 0.11-0.12 on synthetic planes; with a ridge through every column
#: 0.15-0.87, where the magnitude-weighted sum was 8-80 deg off and the votes 3-14 deg. Lower than the 2D
#: threshold (0.5): ridge-free 3D data gave lower shares than simulated 2D planes (0.13-0.40).
RIDGE_SHARE_WARN = 0.3


def estimate_phase_deg(planes) -> float:
    """Zero-order phase that makes the zero-filled spectra of complex planes (n1, n2, C) most positive."""
    return phase_estimate(planes)[0]


def phase_estimate(planes) -> tuple[float, float]:
    """:func:`estimate_phase_deg` and the share of its strongest points that lie in 5 % of the (f1, f2) pairs.

    As :func:`mrml.stages.nus_net.phase_estimate` with each pair of indirect frequencies as a row: the rotated
    spectrum's sum over its top 1 % of magnitudes is made largest, or, where a few pairs hold more than
    :data:`RIDGE_SHARE_WARN` of those points (an axial or edge ridge through every column), one unit vote
    per pair sets the phase.
    """
    from mrml.device import cpu_fft2
    from mrml.stages.nus_net import spectrum_phase

    n1, n2 = planes.shape[:2]
    spec = cpu_fft2(planes, s=(2 * n1, 2 * n2), axes=(0, 1))
    return spectrum_phase(spec.reshape(4 * n1 * n2, -1), warn_share=RIDGE_SHARE_WARN)


def _net(sampled, sched, shape, *, model, phases_deg=None):
    """Network reconstruction: full (n1, n2, 4, C) components, sigma of S+ and S- spectra (2, C, 2n1, 2n2),
    the planes' phases, the band scale and warnings."""
    from mrml.models import load_model
    from mrml.stages.nus_net import sampling_warning
    from mrml.calibration import snr_factor
    from mrml.train_nus3d import plane_snr, predict, spectral_band

    net, card = load_model(model)
    if card.get("architecture") != "nusnet3d":
        raise InputError(f"model {model!r} is not a 3D NUS network (architecture {card.get('architecture')!r})")
    n1, n2 = shape
    mask = np.zeros((n1, n2), dtype=np.float32)
    mask[sched[:, 0], sched[:, 1]] = 1.0
    fulls, sigmas, used, snrs, warnings = [], [], [], [], []
    for k, s in enumerate(to_planes(sampled)):  # (n_sampled, C) complex each
        plane = np.zeros((n1, n2, s.shape[-1]), dtype=np.complex64)  # the network's precision
        plane[sched[:, 0], sched[:, 1]] = s
        if phases_deg is None:
            phase, share = phase_estimate(plane)
            if share > RIDGE_SHARE_WARN:
                warnings.append(f"{'S+' if k == 0 else 'S-'} plane: {share:.0%} of the strongest points lie in 5 % "
                                f"of the indirect frequency pairs (a ridge artefact?); its phase was estimated with "
                                f"one vote per pair ({phase:g} deg); check the result")
        else:
            phase = float(phases_deg[k])
        rot = np.exp(1j * np.deg2rad(phase)).astype(np.complex64)
        plane = np.moveaxis(plane * rot, -1, 0)  # (C, n1, n2)
        inp = np.empty((plane.shape[0], 3, n1, n2), dtype=np.float32)
        inp[:, 0], inp[:, 1], inp[:, 2] = plane.real, plane.imag, mask
        fids, sig = predict(net, inp)  # (K, C, n1, n2), (K, C, 2n1, 2n2)
        fulls.append(np.moveaxis(fids.mean(axis=0) / rot, 0, -1))  # (n1, n2, C)
        mean, sd = spectral_band(fids, sig)
        sigmas.append(sd)
        snrs.append(plane_snr(mean, sd))
        used.append(phase)
    full = from_planes(fulls[0], fulls[1])
    full[sched[:, 0], sched[:, 1]] = sampled
    fraction = len(sched) / (n1 * n2)
    z = band_z(card["calibration"], shape, fraction=fraction)
    factor = np.max([snr_factor(card["calibration"], fraction, snr) for snr in snrs], axis=0)  # per column
    warnings += sampling_warning(card, fraction)
    return full, np.stack(sigmas), used, z, factor, tuple(warnings)


def band_z(calibration: dict, shape, *, fraction=None):
    """The band scale for planes of ``shape`` sampled at ``fraction`` (one or an array) from a card's calibration.

    The scale fitted on planes of that shape when there is one. Otherwise the
    larger of the two calibrated sizes around it, or the largest of all outside
    the calibrated range. With the card's ``z_by_shape_fraction`` and a ``fraction``,
    each shape's scale is first interpolated linearly in the sampling fraction
    between the calibration bins (the nearest bin outside them).
    """
    table = calibration.get("z_by_shape_fraction")
    if table and fraction is not None:
        from mrml.calibration import at_fraction

        by_shape = {tuple(int(v) for v in k.split("x")): at_fraction(row, fraction) for k, row in table.items()}
    else:
        by_shape = {tuple(int(v) for v in k.split("x")): float(z)
                    for k, z in calibration.get("z_by_shape", {}).items()}
    shape = tuple(int(v) for v in shape)
    if shape in by_shape:
        return _scalar(by_shape[shape])
    size = shape[0] * shape[1]
    sizes = sorted(((a * b, z) for (a, b), z in by_shape.items()), key=lambda item: item[0])
    for (lo, z_lo), (hi, z_hi) in zip(sizes, sizes[1:]):
        if lo <= size <= hi:
            return _scalar(np.maximum(z_lo, z_hi))
    if not by_shape:
        return float(calibration["z"])
    return _scalar(np.max(np.stack([np.asarray(z) for z in by_shape.values()]), axis=0))


def _scalar(z):
    return float(z) if np.ndim(z) == 0 else np.asarray(z)


@dataclasses.dataclass(frozen=True)
class Reconstruction3D:
    """Summary of one 3D reconstruction; ``sigma`` (2, C, 2 n1, 2 n2): the network's error SDs of the
    S+ and S- spectra, which :func:`band_cube` turns into the band of the processed spectrum."""

    source: str | None
    method: str
    n_sampled: int
    shape: tuple[int, int]
    seconds: float
    phases_deg: list | None = None
    band_z: float | None = None
    sigma: np.ndarray | None = dataclasses.field(default=None, repr=False)
    #: per direct-dimension column, the band's widening for its planes' SNR (:func:`mrml.calibration.snr_factor`), >= 1
    band_factor: np.ndarray | None = dataclasses.field(default=None, repr=False)
    #: sampled pairs in array axis order (z, y), i.e. the nuslist's columns swapped
    schedule: np.ndarray | None = dataclasses.field(default=None, repr=False)
    warnings: tuple = ()

    def summary(self) -> dict:
        n_total = self.shape[0] * self.shape[1]
        out = {"input": self.source, "method": self.method, "sampled_pairs": self.n_sampled,
               "indirect_points": list(self.shape), "sampling_fraction": round(self.n_sampled / n_total, 4),
               "seconds": round(self.seconds, 3)}
        if self.phases_deg is not None:
            out["plane_phases_deg"] = [float(p) for p in self.phases_deg]
        if self.band_z is not None:
            out["band_z"] = round(float(self.band_z), 4)
        if self.band_factor is not None:
            from mrml.calibration import factor_summary

            out["band_snr_factor"] = factor_summary(self.band_factor)
        out["warnings"] = list(self.warnings)
        return out


def reconstruct_3d(spectrum: Spectrum, schedule, *, method: str = "net", n_iter: int = 200, model="nusnet3d",
                   workers: int | None = None) -> tuple[Spectrum, Reconstruction3D]:
    """Reconstruct both indirect time dimensions of a 3D NUS data set (see the module docstring).

    Parameters
    ----------
    spectrum : Spectrum
        3D NMRPipe data, indirect dimensions expanded to full size.
    schedule : array_like of int, shape (n_sampled, 2)
        0-based sampled pairs in Bruker ``nuslist`` column order: first indirect dimension
        (NMRPipe Y, array axis 1), then second (Z, axis 0).
    method : {"net", "ist"}
        The ``nusnet3d`` network (default) or 2D IST with ``n_iter`` iterations.
    model : str or path
        Shipped name or ``mrml train nusnet3d`` output folder.
    workers : int, optional
        Threads for IST (default: the CPUs this process may use).

    Returns
    -------
    Spectrum, Reconstruction3D
    """
    if method not in METHODS:
        raise InputError(f"unknown 3D reconstruction method {method!r}; available: {', '.join(METHODS)}")
    sched, n1, n2 = _check(spectrum, schedule)
    start = time.perf_counter()
    sampled = _pairs(spectrum.data, sched)
    phases = z = sigma = factor = None
    warnings = ()
    if method == "ist":
        from mrml.stages.nus_ist import ist_hypercomplex

        full = ist_hypercomplex(sampled, sched, (n1, n2), n_iter=n_iter, workers=workers)
    else:
        full, sigma, phases, z, factor, warnings = _net(sampled, sched, (n1, n2), model=model)
    data = np.asarray(spectrum.data)
    cols = interleave(full)
    nx = data.shape[2]
    out = cols[..., :nx] + 1j * cols[..., nx:] if np.iscomplexobj(data) else cols
    result = spectrum.replace(data=out.astype(data.dtype),
                              step=f"reconstruct 3D: {method}, {len(sched)} of {n1} x {n2} pairs")
    info = Reconstruction3D(spectrum.source, method, len(sched), (n1, n2), time.perf_counter() - start,
                            phases_deg=phases, band_z=z, sigma=sigma, band_factor=factor, schedule=sched,
                            warnings=warnings)
    return result, info


def process_indirect(data, *, phases_deg=(0.0, 0.0), window: bool = False) -> np.ndarray:
    """Process both indirect dimensions as NMRPipe does: zero fill x2, FT, phase, delete imaginaries.

    nmrglue cannot transform the outer dimension of a 3D file (its ``ztp`` is not
    implemented), so this is numpy with NMRPipe's conventions, checked against
    nmrglue's ``zf | ft -auto | ps | di`` on a plane (tests/stages/test_nus3d.py).

    Parameters
    ----------
    data : array_like, real, (2 n1, 2 n2, n_x)
        Time domain of both indirect dimensions (States rows interleaved), as
        :func:`reconstruct_3d` writes it.
    phases_deg : (float, float)
        Zero-order phases (NMRPipe ``PS -p0``) of the outer and inner dimension.
    window : bool
        Cosine bell (NMRPipe ``SP -off 0.5 -end 1 -pow 1``) before the FT, as for display.

    Returns
    -------
    numpy.ndarray, float64, (2 n1, 2 n2, n_x)
        The real spectrum in NMRPipe's point order.
    """
    a = np.asarray(data, dtype=np.float64)
    for axis, p0 in ((1, phases_deg[1]), (0, phases_deg[0])):
        c = np.take(a, np.arange(0, a.shape[axis], 2), axis=axis) + 1j * np.take(a, np.arange(1, a.shape[axis], 2),
                                                                                  axis=axis)
        if window:
            shape = [1] * c.ndim
            shape[axis] = c.shape[axis]
            c = c * np.cos(0.5 * np.pi * np.arange(c.shape[axis]) / max(c.shape[axis] - 1, 1)).reshape(shape)
        n = 2 * c.shape[axis]
        spec = np.fft.fftshift(np.fft.ifft(c, n=n, axis=axis), axes=axis) * n
        a = np.real(spec * np.exp(1j * np.deg2rad(p0)))
    return a


def frequency_header(header: dict, shape) -> dict:
    """An NMRPipe header for a real 3D spectrum of ``shape`` with the axes (labels, sw, obs, carrier) of ``header``."""
    import nmrglue as ng

    udic = ng.pipe.guess_udic(dict(header), np.zeros(shape, dtype=np.float32))
    for k in range(3):
        udic[k].update(size=int(shape[k]), complex=False, time=False, freq=True)
    dic = ng.pipe.create_dic(udic)
    dic["FDPIPEFLAG"] = 1.0
    return dic


def _bin_order(n1: int, n2: int) -> tuple[np.ndarray, np.ndarray]:
    """Where FFT bin k of each indirect dimension (zero fill x2) lands after :func:`process_indirect`.

    Found by processing probe signals ``exp(2 pi i k t / 2n)`` rather than by
    re-deriving NMRPipe's sign and shift conventions.
    """
    order = []
    for dim, n in ((0, n1), (1, n2)):
        where = []
        for k in (1, 2):
            t = np.arange(n)
            sig = np.exp(2j * np.pi * k * t / (2 * n))
            comp = np.zeros((n1, n2, 4, 1))
            other = np.ones(n2 if dim == 0 else n1)
            if dim == 0:  # RR + i IR = signal along t1, real along t2
                comp[:, :, 0, 0] = sig.real[:, None] * other[None, :]
                comp[:, :, 2, 0] = sig.imag[:, None] * other[None, :]
            else:  # RR + i RI along t2
                comp[:, :, 0, 0] = other[:, None] * sig.real[None, :]
                comp[:, :, 1, 0] = other[:, None] * sig.imag[None, :]
            spec = process_indirect(interleave(comp))[..., 0]
            where.append(int(np.unravel_index(np.argmax(spec), spec.shape)[dim]))
        step = where[1] - where[0]  # +1 or -1
        order.append((where[0] + step * (np.arange(2 * n) - 1)) % (2 * n))
    return order[0], order[1]


def band_cube(result: Spectrum, info: Reconstruction3D) -> Spectrum:
    """Half-width of the calibrated band at every point of the processed 3D spectrum, as an NMRPipe file.

    The processed real spectrum (zero fill x2, FT, any zero-order phases, no window) at
    ``(w1, w2)`` is ``Re[a F+(w1, w2)] / 2 + Re[b F-(-w1, w2)] / 2`` with unit phase
    factors ``a``, ``b``, where ``F+`` and ``F-`` are the spectra of the two
    reconstructed planes, whose errors are independent. With per-point error SDs
    ``s+`` and ``s-`` from the network, the band half-width is
    ``z sqrt(s+(w1, w2)^2 + s-(-w1, w2)^2) / 2``, ``z`` calibrated on held-out
    simulations. The layout is that of :func:`process_indirect`'s output; the NMRPipe header
    describes the three frequency axes.
    """
    if info.sigma is None:
        raise InputError("the uncertainty band needs the network reconstruction (--method net)")
    from mrml.io.nmrpipe import from_pipe

    n1, n2 = info.shape
    plus, minus = info.sigma  # (C, 2 n1, 2 n2) each
    minus_mirror = minus[:, (-np.arange(2 * n1)) % (2 * n1), :]
    factor = np.ones(len(plus)) if info.band_factor is None else np.asarray(info.band_factor)
    band = info.band_z * factor[:, None, None] * 0.5 * np.sqrt(plus ** 2 + minus_mirror ** 2)  # (C, k1, k2)
    data = np.asarray(result.data)
    nx = data.shape[2]
    band = band[:nx]  # a complex direct dimension: the columns of its real part
    o1, o2 = _bin_order(n1, n2)
    out = np.empty((2 * n1, 2 * n2, nx), dtype=np.float32)
    out[np.ix_(o1, o2)] = np.moveaxis(band, 0, -1)
    return from_pipe(frequency_header(result.header, out.shape), out, source=result.source,
                     step=f"uncertainty: learned error SD x {info.band_z:.3g} (calibrated) of the processed spectrum")
