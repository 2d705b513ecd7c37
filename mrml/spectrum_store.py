"""One large simulated NMR spectrum streamed into zarr, plane by plane through dask.

A 3D data set of realistic size (an HNCA of 512 x 128 x 1024 complex points is
2.1 GB as complex64 in NMRPipe's interleaved layout) never has to exist in
memory: every dask task computes a block of planes of the outermost dimension
as one float32 matrix product of the 1D peak signals (as :func:`simulators.nmr.fid.plane_3d`)
and writes them, so peak memory is that of one block. Block *i* draws its
noise from ``default_rng([seed, 1, i])``, so a block can be regenerated alone and
a resumed run equals an uninterrupted one. The peak list, acquisition
parameters and seed are stored with the data.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from mrml.errors import InputError


def _peaks(experiment: str, n_residues: int, seed: int):
    from simulators.nmr import peaks as P

    rng = np.random.default_rng([seed, 0])
    seq = P.random_sequence(n_residues, rng)
    return P.peak_list(experiment, seq, P.backbone_shifts(seq, rng), rng)


def _dims(experiment: str, dims):
    from simulators.nmr.fid import Dimension, default_dimensions

    if dims is None:
        return default_dimensions(experiment)
    return tuple(d if isinstance(d, Dimension) else Dimension(**d) for d in dims)


def write_spectrum(path, experiment: str = "hnca", *, n_residues: int = 150, seed: int = 0, dims=None,
                   noise_sd: float = 0.0, planes_per_block: int = 8, scheduler: str | None = "threads",
                   overwrite: bool = False) -> dict:
    """Simulate one 3D spectrum into a zarr array ``data`` of shape (2 n1, 2 n2, n3), complex64.

    Parameters
    ----------
    path : path
        Output ``.zarr`` directory.
    experiment : {"hnca", "hncoca"}
        A 3D experiment of :mod:`simulators.nmr.peaks`.
    n_residues : int
        Protein length (sets the number of peaks and the linewidths).
    seed : int
        Seed of the peak list and of the noise.
    dims : sequence of Dimension or dicts, optional
        Acquisition parameters (default :func:`simulators.nmr.fid.default_dimensions`).
    noise_sd : float
        Noise standard deviation per real value.
    planes_per_block : int
        Planes of the outermost dimension per dask task (and zarr chunk).
    scheduler : str
        Local dask scheduler.

    Returns
    -------
    dict
        Shape, bytes, seconds and GB/s.
    """
    import dask
    import zarr

    from mrml.direct_io import DirectLocalStore
    from mrml.store import _compressor
    from simulators.nmr.fid import dimension_signals, nmrpipe_dic

    if experiment not in ("hnca", "hncoca"):
        raise InputError(f"streamed spectra are 3D: experiment must be hnca or hncoca, not {experiment!r}")
    p = Path(path)
    if p.exists() and not overwrite:
        raise InputError(f"{p} exists; use --overwrite to replace it")
    dims = _dims(experiment, dims)
    peaks = _peaks(experiment, n_residues, seed)
    shape = (2 * dims[0].n_complex, 2 * dims[1].n_complex, dims[2].n_complex)
    t0 = time.perf_counter()
    group = zarr.open_group(DirectLocalStore(p), mode="w", zarr_format=3)  # blocks written past the page cache
    with zarr.config.set({"array.write_empty_chunks": True}):  # blocks of planes are never all zero: no check
        arr = group.create_array("data", shape=shape, chunks=(planes_per_block, *shape[1:]), dtype="complex64",
                                 fill_value=0, compressors=_compressor())
    group.create_array("peaks/ppm", data=peaks.ppm.astype(np.float64))
    group.create_array("peaks/intensity", data=peaks.intensity.astype(np.float64))
    dic = {k: (float(v) if isinstance(v, (int, float, np.floating)) else v) for k, v in nmrpipe_dic(dims).items()}
    group.attrs.update({"experiment": experiment, "n_residues": n_residues, "seed": seed, "noise_sd": noise_sd,
                        "dims": [d.__dict__ for d in dims], "layout": "NMRPipe time domain, States interleaved",
                        "nmrpipe_header": json.loads(json.dumps(dic, default=str))})

    sig = [dimension_signals(peaks, d, k) for k, d in enumerate(dims)]
    amp = peaks.intensity
    # rows of the outermost dimension (cos, sin interleaved) times amplitudes: (2 n1, P) float32
    outer = np.empty((shape[0], amp.size), dtype=np.float32)
    outer[0::2], outer[1::2] = sig[0].real * amp, sig[0].imag * amp
    middle = np.empty((shape[1], amp.size), dtype=np.float32)  # (2 n2, P), interleaved
    middle[0::2], middle[1::2] = sig[1].real, sig[1].imag
    direct_re = np.ascontiguousarray(sig[2].real.T, dtype=np.float32)  # (P, n3)
    direct_im = np.ascontiguousarray(sig[2].imag.T, dtype=np.float32)

    def block(i: int) -> int:
        z = slice(i * planes_per_block, min(shape[0], (i + 1) * planes_per_block))
        # every plane is (middle * outer_z) @ direct: one float32 GEMM for the whole block
        x = (outer[z, None, :] * middle[None, :, :]).reshape(-1, amp.size)
        planes = np.empty((x.shape[0], shape[2]), dtype=np.complex64)
        planes.real = x @ direct_re
        planes.imag = x @ direct_im
        if noise_sd:
            rng = np.random.default_rng([seed, 1, i])
            planes.real += noise_sd * rng.standard_normal(planes.shape, dtype=np.float32)
            planes.imag += noise_sd * rng.standard_normal(planes.shape, dtype=np.float32)
        planes = planes.reshape(-1, *shape[1:])
        arr[z] = planes
        return planes.nbytes

    n_blocks = -(-shape[0] // planes_per_block)
    tasks = [dask.delayed(block)(i) for i in range(n_blocks)]
    dask.compute(*tasks, scheduler=scheduler)
    seconds = time.perf_counter() - t0
    nbytes = int(np.prod(shape)) * 8
    return {"path": str(p), "experiment": experiment, "shape": list(shape), "peaks": peaks.n_peaks,
            "bytes": nbytes, "seconds": round(seconds, 3), "gb_per_s": round(nbytes / seconds / 1e9, 3)}


def read_spectrum(path):
    """The streamed data as a :class:`~mrml.spectrum.Spectrum` (loaded into memory; for small data sets)."""
    import zarr

    from mrml.spectrum import Axis, Spectrum

    g = zarr.open_group(str(path), mode="r")
    data = g["data"][...]
    axes = []
    for k, d in enumerate(g.attrs["dims"]):
        size = data.shape[k]
        steps = np.arange(size) // 2 if k < 2 else np.arange(size)
        axes.append(Axis(d["label"], size, "time", "us", values=steps / d["sw_hz"] * 1e6, sw_hz=d["sw_hz"],
                         obs_mhz=d["obs_mhz"], car_hz=d["car_ppm"] * d["obs_mhz"]))
    return Spectrum(data, tuple(axes), header=dict(g.attrs["nmrpipe_header"]), format="nmrpipe",
                    source=os.fspath(path))
