"""Direct-dimension processing of raw Bruker 2D data into NMRPipe's NUS-input layout.

For ``mrml reconstruct`` on a Bruker experiment folder: the raw ``ser`` (direct
dimension complex, digital filter still in it; indirect increments as
acquired, in ``nuslist`` order for NUS data) becomes the layout FID-Net and
NMRPipe use for NUS input, with a valid NMRPipe header:

1. echo/antiecho row pairs (A, B) become States pairs (A - B, i (A + B)), as
   NMRPipe's conversion writes them; States data are kept;
2. direct dimension: cosine-bell apodisation (SP off 0.5, first point x 0.5),
   zero filling to twice the next power of two, Fourier transform, first-order
   phase from the digital filter's group delay (GRPDLY), zero-order phase found
   automatically on the first increment (up to 180 degrees, which the indirect
   phase absorbs), imaginaries deleted.
"""

from __future__ import annotations

import warnings

import numpy as np

from mrml.errors import DataError
from mrml.spectrum import Axis, Spectrum


def to_states(data: np.ndarray, encoding: str) -> np.ndarray:
    """Indirect row pairs as States (cosine, sine) pairs."""
    if encoding in ("states", "complex"):
        return data.copy()
    if encoding == "echo-antiecho":
        out = np.empty_like(data)
        a, b = data[0::2], data[1::2]
        out[0::2], out[1::2] = a - b, 1j * (a + b)
        return out
    raise DataError(f"indirect acquisition mode {encoding!r} is not supported (States or echo/antiecho)")


def best_zero_order_phase(spectrum_1d: np.ndarray, *, step_deg: float = 0.5, guard: float = 0.05) -> float:
    """Zero-order phase (degrees, NMRPipe PS convention) that makes the real part most positive.

    The strongest line (usually residual solvent) and ``guard`` of the points
    either side of it are left out, so that it cannot dominate the choice.
    """
    x = np.asarray(spectrum_1d)
    n = x.size
    keep = np.ones(n, dtype=bool)
    top, half = int(np.argmax(np.abs(x))), max(1, int(guard * n))
    keep[max(0, top - half):top + half + 1] = False
    phases = np.arange(0.0, 360.0, step_deg)
    rot = np.real(x[keep][None, :] * np.exp(1j * np.deg2rad(phases))[:, None])
    return float(phases[int(np.argmax(rot.sum(axis=1)))])


def bruker_plane(spectrum: Spectrum, *, p0_deg: float | None = None) -> tuple[Spectrum, dict]:
    """Process the direct dimension of a raw Bruker 2D data set (see the module docstring).

    Returns
    -------
    Spectrum
        ``format="nmrpipe"``: (2 n_increments, n_direct) real, indirect time domain States-interleaved.
    dict
        ``p0_deg``, ``p1_deg`` (applied phases), ``encoding``, ``nuslist`` (or None), ``n_full`` (complex
        points of the full indirect dimension).
    """
    import nmrglue as ng

    if spectrum.format != "bruker" or spectrum.ndim != 2:
        raise DataError("direct-dimension processing needs a raw 2D Bruker data set")
    hdr = dict(spectrum.header)
    data = to_states(np.asarray(spectrum.data), hdr["encodings"][0])
    udic = ng.fileio.fileiobase.create_blank_udic(2)
    for k, ax in enumerate(spectrum.axes):
        udic[k].update(size=data.shape[k], complex=True, encoding="states" if k == 0 else "direct",
                       sw=ax.sw_hz, obs=ax.obs_mhz, car=ax.car_hz, label=ax.label, time=True, freq=False)
    dic = ng.pipe.create_dic(udic)
    grpdly = float(hdr["acqus"].get("GRPDLY", 0) or 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dic, d = ng.pipe_proc.sp(dic, data.astype(np.complex64), off=0.5, end=1.0, pow=1, c=0.5)
        size = int(2 ** np.ceil(np.log2(d.shape[-1]))) * 2
        dic, d = ng.pipe_proc.zf(dic, d, size=size)
        dic, d = ng.pipe_proc.ft(dic, d, auto=True)
        p1 = -360.0 * grpdly
        if p0_deg is None:  # on whichever row of the first increment pair carries the signal
            row = int(np.argmax(np.linalg.norm(np.asarray(d[:2]), axis=1)))
            p0_deg = best_zero_order_phase(np.asarray(ng.proc_base.ps(d[row], p0=0.0, p1=p1)))
        dic, d = ng.pipe_proc.ps(dic, d, p0=p0_deg, p1=p1)
        dic, d = ng.pipe_proc.di(dic, d)
    d = np.asarray(d, dtype=np.float32)
    uc = ng.pipe.make_uc(dic, d, dim=1)
    ind, direct = spectrum.axes
    axes = (Axis(ind.label, d.shape[0], "time", "us", values=(np.arange(d.shape[0]) // 2) / ind.sw_hz * 1e6,
                 sw_hz=ind.sw_hz, obs_mhz=ind.obs_mhz, car_hz=ind.car_hz),
            Axis(direct.label, d.shape[1], "frequency", "ppm", values=uc.ppm_scale(), sw_hz=direct.sw_hz,
                 obs_mhz=direct.obs_mhz, car_hz=direct.car_hz))
    out = Spectrum(d, axes, header=dic, format="nmrpipe", source=spectrum.source,
                   provenance=spectrum.provenance + (f"direct dimension: SP, ZF {size}, FT, PS {p0_deg:.1f} "
                                                     f"{p1:.0f}, DI",))
    td2 = int(hdr.get("acqu2s", {}).get("TD", d.shape[0]))
    info = {"p0_deg": p0_deg, "p1_deg": p1, "encoding": hdr["encodings"][0], "nuslist": hdr.get("nuslist"),
            "n_full": td2 // 2}
    return out, info
