"""Time-domain synthesis of multidimensional NMR data from peak lists (separable, streamable).

Each peak is a product of 1D damped complex exponentials, one per dimension,

    s_p(t_1, ..., t_d) = A_p prod_k exp[(i 2 pi nu_pk - R2_pk) t_k] prod_j cos(pi J_pkj t_k),

with ``nu_pk = (ppm_pk - carrier_k) * obs_k`` in Hz. A spectrum is therefore a
sum of outer products: for two dimensions one matrix product ``E_1 diag(A) E_2^T``;
for three, every plane of the outermost dimension is again one matrix product,
so a 3D data set can be generated plane by plane (chunk by chunk through dask)
without ever being held in memory.

Layout as NMRPipe sees it (and :mod:`mrml.io.nmrpipe` reads and writes): direct
dimension last and complex; every indirect dimension in States quadrature,
real (cosine) and imaginary (sine) rows interleaved.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from simulators.nmr.peaks import PeakList

#: Observe frequencies (MHz) of the nuclei on a 600 MHz (14.1 T) spectrometer.
OBS_600_MHZ = {"1H": 600.13, "15N": 60.818, "13C": 150.903}


@dataclasses.dataclass(frozen=True)
class Dimension:
    """Acquisition parameters of one dimension.

    Parameters
    ----------
    label : str
        Nucleus label (``"1H"``, ``"15N"``, ``"13C"``).
    n_complex : int
        Complex points acquired.
    sw_hz : float
        Spectral width.
    obs_mhz : float
        Observe frequency.
    car_ppm : float
        Carrier (centre of the spectral window).
    """

    label: str
    n_complex: int
    sw_hz: float
    obs_mhz: float
    car_ppm: float

    @property
    def t_s(self) -> np.ndarray:
        """Sampling times (s)."""
        return np.arange(self.n_complex) / self.sw_hz

    def offset_hz(self, ppm) -> np.ndarray:
        return (np.asarray(ppm, dtype=float) - self.car_ppm) * self.obs_mhz


def default_dimensions(experiment: str) -> tuple[Dimension, ...]:
    """Typical 600 MHz acquisition parameters, indirect dimensions first."""
    h = Dimension("1H", 512, 8000.0, OBS_600_MHZ["1H"], 4.7)
    n15 = Dimension("15N", 128, 2000.0, OBS_600_MHZ["15N"], 118.0)
    table = {
        "hsqc": (n15, h),
        "methyl": (Dimension("13C", 128, 3000.0, OBS_600_MHZ["13C"], 19.0),
                   Dimension("1H", 512, 4800.0, OBS_600_MHZ["1H"], 1.0)),
        "hnca": (Dimension("13C", 64, 4500.0, OBS_600_MHZ["13C"], 54.0), dataclasses.replace(n15, n_complex=48), h),
        "hncoca": (Dimension("13C", 64, 4500.0, OBS_600_MHZ["13C"], 54.0), dataclasses.replace(n15, n_complex=48), h),
    }
    return table[experiment]


def dimension_signals(peaks: PeakList, dim: Dimension, k: int, *, phase_rad: float = 0.0) -> np.ndarray:
    """1D signals (n_complex, n_peaks) of every peak along dimension ``k``."""
    t = dim.t_s[:, None]
    nu = dim.offset_hz(peaks.ppm[:, k])[None, :]
    e = np.exp((2j * np.pi * nu - peaks.r2_per_s[None, :, k]) * t + 1j * phase_rad)
    for j in range(peaks.couplings_hz.shape[2]):
        jj = peaks.couplings_hz[None, :, k, j]
        if np.any(jj):
            e = e * np.cos(np.pi * jj * t)
    return e


def synthesise(peaks: PeakList, dims, rng: np.random.Generator, *, noise_sd: float = 0.0,
               phase_rad=None) -> np.ndarray:
    """Time-domain data of a 2D or 3D peak list in NMRPipe's layout.

    Parameters
    ----------
    peaks : PeakList
    dims : sequence of Dimension
        One per peak dimension, indirect first.
    rng : numpy.random.Generator
        For the noise.
    noise_sd : float
        Standard deviation of the Gaussian noise on every real value.
    phase_rad : sequence of float, optional
        Zero-order phase error per dimension.

    Returns
    -------
    numpy.ndarray, complex64
        2D: ``(2 n_1, n_2)``; 3D: ``(2 n_1, 2 n_2, n_3)``.
    """
    dims = tuple(dims)
    if len(dims) != peaks.ppm.shape[1] or len(dims) not in (2, 3):
        raise ValueError(f"{len(dims)} dimensions for {peaks.ppm.shape[1]}-D peaks (2D and 3D supported)")
    phase = np.zeros(len(dims)) if phase_rad is None else np.asarray(phase_rad, dtype=float)
    sig = [dimension_signals(peaks, d, k, phase_rad=phase[k]) for k, d in enumerate(dims)]
    direct = sig[-1] * 1.0  # (n_x, P)
    amp = peaks.intensity[None, :]
    if len(dims) == 2:
        out = np.empty((2 * dims[0].n_complex, dims[1].n_complex), dtype=np.complex128)
        out[0::2] = (sig[0].real * amp) @ direct.T
        out[1::2] = (sig[0].imag * amp) @ direct.T
    else:
        out = np.stack([plane_3d(sig, amp, z) for z in range(2 * dims[0].n_complex)])
    if noise_sd:
        out = out + noise_sd * (rng.standard_normal(out.shape) + 1j * rng.standard_normal(out.shape))
    return out.astype(np.complex64)


def plane_3d(sig, amp, z: int) -> np.ndarray:
    """One (2 n_y, n_x) plane of a 3D data set: row ``z`` of the interleaved outermost dimension."""
    outer = sig[0][z // 2]
    outer = (outer.real if z % 2 == 0 else outer.imag)[None, :] * amp
    plane = np.empty((2 * sig[1].shape[0], sig[2].shape[0]), dtype=np.complex128)
    plane[0::2] = (sig[1].real * outer) @ sig[2].T
    plane[1::2] = (sig[1].imag * outer) @ sig[2].T
    return plane


def nmrpipe_dic(dims):
    """An NMRPipe header (nmrglue dictionary) for time-domain data with these dimensions."""
    import nmrglue as ng

    udic = ng.fileio.fileiobase.create_blank_udic(len(dims))
    for k, d in enumerate(dims):
        last = k == len(dims) - 1
        udic[k].update(size=d.n_complex if last else 2 * d.n_complex, complex=True, encoding="states",
                       sw=d.sw_hz, obs=d.obs_mhz, car=d.car_ppm * d.obs_mhz, label=d.label, time=True, freq=False)
    dic = ng.pipe.create_dic(udic)
    if len(dims) > 2:
        dic["FDPIPEFLAG"] = 1.0  # one data stream (not a series of planes): how nmrglue and NMRPipe read a 3D file
    return dic


def direct_processed(peaks: PeakList, dims, rng: np.random.Generator, *, noise_sd: float = 0.0):
    """Simulated data with the direct dimension transformed by nmrglue (FT, imaginaries deleted).

    What a NUS reconstruction takes in (and, for 3D, what NMRPipe's ``nusExpand.tcl``
    and direct-dimension processing give): returns the nmrglue dictionary and the
    real array, 2D ``(2 n_1, n_2)`` or 3D ``(2 n_1, 2 n_2, n_3)``.
    """
    import nmrglue as ng

    dic, data = nmrpipe_dic(dims), synthesise(peaks, dims, rng, noise_sd=noise_sd)
    dic, data = ng.pipe_proc.ft(dic, data, auto=True)
    return ng.pipe_proc.di(dic, data)
