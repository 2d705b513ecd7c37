"""Direct-dimension processing of raw Bruker 2D and 3D data into NMRPipe's NUS-input layout.

For ``mrml reconstruct`` on a Bruker experiment folder: the raw ``ser`` (direct
dimension complex, digital filter still in it; indirect increments as
acquired, in ``nuslist`` order for NUS data) becomes the layout FID-Net and
NMRPipe use for NUS input, with a valid NMRPipe header:

1. every indirect dimension becomes States: echo/antiecho pairs (A, B) become
   (A - B, i (A + B)), as NMRPipe's conversion writes them; States-TPPI pairs
   are negated at odd increments (NMRPipe's ``FT -alt``); States data are kept;
2. direct dimension: cosine-bell apodisation (SP off 0.5, first point x 0.5),
   zero filling to twice the next power of two, Fourier transform, first-order
   phase from the digital filter's group delay (GRPDLY), zero-order phase found
   automatically on the first increment (up to 180 degrees, which the indirect
   phase absorbs), imaginaries deleted;
3. 3D NUS data are expanded as NMRPipe's ``nusExpand.tcl`` does: full size in
   both indirect dimensions, zeros at the pairs that were not sampled
   (:func:`bruker_cube`), ready for :func:`mrml.stages.nus3d.reconstruct_3d`.
"""

from __future__ import annotations

import warnings

import numpy as np

from mrml.errors import DataError
from mrml.spectrum import Axis, Spectrum

def states_pair(a, b, encoding: str, increments=0):
    """The States (cosine, sine) components of one quadrature pair ``(a, b)`` acquired in ``encoding``.

    ``increments``: the pair's time-point index (broadcast against ``a``), needed for States-TPPI.
    """
    if encoding in ("states", "complex"):
        return a, b
    if encoding == "states-tppi":
        sign = 1 - 2 * (np.asarray(increments) % 2)
        return a * sign, b * sign
    if encoding == "echo-antiecho":
        return a - b, 1j * (a + b)
    raise DataError(f"indirect acquisition mode {encoding!r} is not supported "
                    "(States, States-TPPI or echo/antiecho)")


def to_states(data: np.ndarray, encoding: str, increments=None) -> np.ndarray:
    """Indirect row pairs as States (cosine, sine) pairs.

    ``increments``: the time-point index of each row pair (default 0, 1, 2, ...; a NUS schedule for NUS data).
    """
    data = np.asarray(data)
    k = np.arange(data.shape[0] // 2) if increments is None else np.asarray(increments)
    k = k.reshape((-1,) + (1,) * (data.ndim - 1))
    out = np.empty(data.shape, dtype=np.result_type(data, np.complex64))
    out[0::2], out[1::2] = states_pair(data[0::2], data[1::2], encoding, k)
    return out


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


def _direct(rows, indirect: Axis, direct: Axis, *, grpdly: float, p0_deg: float | None, probe_rows: int):
    """SP, ZF, FT, PS, DI of complex rows (m, n) with nmrglue; the phase is found on the first ``probe_rows``.

    Returns the real rows (float32), the 2D NMRPipe dictionary, p0, p1 and the zero-filled size.
    """
    import nmrglue as ng

    udic = ng.fileio.fileiobase.create_blank_udic(2)
    for k, ax in enumerate((indirect, direct)):
        udic[k].update(size=rows.shape[k], complex=True, encoding="states" if k == 0 else "direct",
                       sw=ax.sw_hz, obs=ax.obs_mhz, car=ax.car_hz, label=ax.label, time=True, freq=False)
    dic = ng.pipe.create_dic(udic)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dic, d = ng.pipe_proc.sp(dic, np.asarray(rows, dtype=np.complex64), off=0.5, end=1.0, pow=1, c=0.5)
        size = int(2 ** np.ceil(np.log2(d.shape[-1]))) * 2
        dic, d = ng.pipe_proc.zf(dic, d, size=size)
        dic, d = ng.pipe_proc.ft(dic, d, auto=True)
        p1 = -360.0 * grpdly
        if p0_deg is None:  # on whichever row of the first increment carries the signal
            row = int(np.argmax(np.linalg.norm(np.asarray(d[:probe_rows]), axis=1)))
            p0_deg = best_zero_order_phase(np.asarray(ng.proc_base.ps(d[row], p0=0.0, p1=p1)))
        dic, d = ng.pipe_proc.ps(dic, d, p0=p0_deg, p1=p1)
        dic, d = ng.pipe_proc.di(dic, d)
    return np.asarray(d, dtype=np.float32), dic, float(p0_deg), p1, size


def _grpdly(header) -> float:
    return float(header["acqus"].get("GRPDLY", 0) or 0)


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
    ind, direct = spectrum.axes
    data = to_states(np.asarray(spectrum.data), hdr["encodings"][0], hdr.get("nuslist"))
    d, dic, p0_deg, p1, size = _direct(data, ind, direct, grpdly=_grpdly(hdr), p0_deg=p0_deg, probe_rows=2)
    uc = ng.pipe.make_uc(dic, d, dim=1)
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


def bruker_cube(spectrum: Spectrum, *, p0_deg: float | None = None) -> tuple[Spectrum, dict]:
    """A raw Bruker 3D NUS data set as NMRPipe's expanded 3D NUS input (see the module docstring).

    Parameters
    ----------
    spectrum : Spectrum
        :func:`mrml.io.bruker.read` of a 3D NUS folder: ``(n_sampled, 4, n_direct)`` with its ``nuslist``.
    p0_deg : float, optional
        Zero-order phase of the direct dimension (default: automatic).

    Returns
    -------
    Spectrum
        ``format="nmrpipe"``: ``(2 n_z, 2 n_y, n_x)`` real; both indirect dimensions are full States time
        domains (Z = ``acqu3s``, Y = ``acqu2s``) with zeros at the unsampled pairs; the direct one is processed.
    dict
        ``p0_deg``, ``p1_deg``, ``encodings`` (Z, Y), ``nuslist`` (pairs in nuslist column order Y, Z),
        ``n_full`` (complex points of Z and Y).
    """
    import nmrglue as ng

    from mrml.io.schedule import validate_schedule
    from mrml.stages.nus3d import interleave

    hdr = dict(spectrum.header)
    nuslist = np.asarray(hdr.get("nuslist", []))
    if spectrum.format != "bruker" or spectrum.ndim != 3 or nuslist.ndim != 2 or spectrum.data.shape[1] != 4:
        raise DataError("3D NUS processing needs a raw Bruker 3D NUS data set (ser with a two-column nuslist)")
    n_z, n_y = (int(hdr[f]["TD"]) // 2 for f in ("acqu3s", "acqu2s"))
    validate_schedule(nuslist, shape=(n_y, n_z), source="nuslist")
    y, z = nuslist[:, 0], nuslist[:, 1]
    enc_z, enc_y = hdr["encodings"][:2]
    raw = np.asarray(spectrum.data).reshape(len(nuslist), 2, 2, -1)  # [pair, Z re/im, Y re/im, t]
    a, b = states_pair(raw[:, :, 0], raw[:, :, 1], enc_y, y[:, None, None])
    raw = np.stack([a, b], axis=2)
    a, b = states_pair(raw[:, 0], raw[:, 1], enc_z, z[:, None, None])
    raw = np.stack([a, b], axis=1)
    ax_z, ax_y, direct = spectrum.axes
    d, dic2, p0_deg, p1, size = _direct(raw.reshape(-1, raw.shape[-1]), ax_y, direct, grpdly=_grpdly(hdr),
                                        p0_deg=p0_deg, probe_rows=4)
    nx = d.shape[-1]
    full = np.zeros((n_z, n_y, 4, nx), dtype=np.float32)
    full[z, y] = d.reshape(len(nuslist), 4, nx)  # RR, RI, IR, II with the Z component first
    cube = interleave(full).astype(np.float32)
    udic = ng.fileio.fileiobase.create_blank_udic(3)
    for k, (ax, n) in enumerate(((ax_z, 2 * n_z), (ax_y, 2 * n_y))):
        udic[k].update(size=n, complex=True, encoding="states", sw=ax.sw_hz, obs=ax.obs_mhz, car=ax.car_hz,
                       label=ax.label, time=True, freq=False)
    udic[2].update(size=nx, complex=False, encoding="direct", sw=direct.sw_hz, obs=direct.obs_mhz,
                   car=direct.car_hz, label=direct.label, time=False, freq=True)
    dic = ng.pipe.create_dic(udic)
    dic.update({k: v for k, v in dic2.items() if k.startswith("FDF2")})  # the processed direct (X) dimension
    dic["FDPIPEFLAG"] = 1.0
    # a real direct dimension with complex Y: NMRPipe counts Y in complex points (as after FT and DI)
    dic["FDSPECNUM"] = dic["FDSLICECOUNT"] = float(n_y)
    uc = ng.pipe.make_uc(dic2, d, dim=1)
    axes = tuple(Axis(ax.label, n, "time", "us", values=(np.arange(n) // 2) / ax.sw_hz * 1e6, sw_hz=ax.sw_hz,
                      obs_mhz=ax.obs_mhz, car_hz=ax.car_hz) for ax, n in ((ax_z, 2 * n_z), (ax_y, 2 * n_y)))
    axes += (Axis(direct.label, nx, "frequency", "ppm", values=uc.ppm_scale(), sw_hz=direct.sw_hz,
                  obs_mhz=direct.obs_mhz, car_hz=direct.car_hz),)
    out = Spectrum(cube, axes, header=dic, format="nmrpipe", source=spectrum.source,
                   provenance=spectrum.provenance + (f"indirect: {enc_z} / {enc_y} to States; direct dimension: SP, "
                                                     f"ZF {size}, FT, PS {p0_deg:.1f} {p1:.0f}, DI; NUS pairs "
                                                     f"expanded to {n_z} x {n_y}",))
    info = {"p0_deg": p0_deg, "p1_deg": p1, "encodings": [enc_z, enc_y], "nuslist": nuslist, "n_full": (n_z, n_y)}
    return out, info
