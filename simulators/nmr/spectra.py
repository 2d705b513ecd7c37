"""Training stores of whole simulated spectra: 2D HSQC / methyl HMQC and 3D HNCA / HN(CO)CA time-domain data.

Each record is one protein: a random sequence of random length, BMRB-like
shifts, the experiment's peak list (:mod:`simulators.nmr.peaks`) and its time
domain in NMRPipe's layout (:mod:`simulators.nmr.fid`), with the artefacts of
measured data: Gaussian noise, zero-order phase errors in every dimension, a
residual solvent line in the direct dimension (HSQC and triple resonance: water
at 4.7 ppm), and a first-point (baseline) offset. Records store the noisy
``fid`` and the artefact-free ``clean`` time domain (the target of denoising
and reconstruction), the peak table (ppm per dimension and intensity, zero
padded) and the drawn parameters. Record sizes are kept small by default
(``--set n_direct=... n_indirect=...`` for more).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import numpy as np

from simulators.nmr import peaks as P
from simulators.nmr.fid import default_dimensions, dimension_signals, synthesise
from simulators.params import Param, merge_config

VERSION = "1.1"

PARAMS = (
    Param("n_residues", "", 40, 250, "uniform", "Protein length (sets peak count and linewidths; integer)."),
    Param("noise_frac", "", 0.01, 0.5, "log-uniform",
          "Noise SD per real value relative to the time-domain amplitude of the strongest single peak."),
    Param("phase_deg", "deg", -10.0, 10.0, "uniform", "Zero-order phase error of each dimension."),
    Param("solvent_frac", "", 0.0, 50.0, "uniform", "Residual water amplitude relative to the strongest peak."),
    Param("offset_frac", "", 0.0, 0.05, "uniform", "First-point offset (baseline) relative to the strongest peak."),
)

#: Default record sizes (complex points, indirect first) per experiment: small planes/cubes for training.
SIZES = {"hsqc": (64, 256), "methyl": (64, 256), "hnca": (32, 24, 128), "hncoca": (32, 24, 128)}
MAX_RESIDUES = 250


def _max_peaks(experiment: str, max_residues: int) -> int:
    return {"hsqc": 1, "hnca": 2, "hncoca": 1, "methyl": 2}[experiment] * max_residues


def phase_errors(data, phase_rad) -> np.ndarray:
    """Zero-order phase errors applied to time-domain data in NMRPipe's layout (indirect first, States rows).

    The direct dimension is complex: multiply by ``exp(i phi)``. An indirect
    dimension's cosine and sine rows are the real and imaginary parts of its
    complex signal, so a phase there mixes each row pair:
    ``cos' = cos phi cos - sin phi sin``, ``sin' = sin phi cos + cos phi sin``.
    Equal to synthesising with the phases (:func:`simulators.nmr.fid.synthesise`).
    """
    out = np.asarray(data) * np.exp(1j * phase_rad[-1])
    for axis, phi in enumerate(phase_rad[:-1]):
        re = np.take(out, np.arange(0, out.shape[axis], 2), axis=axis)
        im = np.take(out, np.arange(1, out.shape[axis], 2), axis=axis)
        mixed = np.empty_like(out)
        idx = [slice(None)] * out.ndim
        idx[axis] = slice(0, None, 2)
        mixed[tuple(idx)] = np.cos(phi) * re - np.sin(phi) * im
        idx[axis] = slice(1, None, 2)
        mixed[tuple(idx)] = np.sin(phi) * re + np.cos(phi) * im
        out = mixed
    return out.astype(np.complex64)


class SpectrumSimulator:
    """Batch simulator of whole 2D/3D spectra of one experiment.

    Notes
    -----
    :meth:`simulate` returns ``fid`` and ``clean`` (complex64; 2D ``(2 n1, n2)``,
    3D ``(2 n1, 2 n2, n3)``), ``peaks`` (max_peaks, ndim + 1) float32 (ppm per
    dimension, indirect first, then intensity; zero rows past ``n_peaks``),
    ``n_peaks`` and ``params/<name>``.
    """

    params = PARAMS
    version = VERSION

    def __init__(self, experiment: str, config: Mapping[str, Any] | None = None):
        if experiment not in SIZES:
            raise ValueError(f"unknown experiment {experiment!r}; available: {', '.join(SIZES)}")
        self.name = experiment
        defaults = {"sizes": list(SIZES[experiment]), "ranges": {}}
        merged = merge_config(defaults, PARAMS, {}) if config is None else {**defaults, **dict(config)}
        merged["ranges"] = {k: list(v) for k, v in dict(merged.get("ranges") or {}).items()}
        sizes = [int(s) for s in merged["sizes"]]
        if len(sizes) != len(SIZES[experiment]) or min(sizes) < 4:
            raise ValueError(f"sizes: {len(SIZES[experiment])} numbers of complex points (>= 4) for {experiment}")
        merged["sizes"] = sizes
        self.config = merged
        self._params = {p.name: p.with_range(*merged["ranges"][p.name]) if p.name in merged["ranges"] else p
                        for p in PARAMS}
        if self._params["n_residues"].high > MAX_RESIDUES:
            raise ValueError(f"n_residues goes up to {MAX_RESIDUES}")
        self.dims = tuple(dataclasses.replace(d, n_complex=n, sw_hz=d.sw_hz)
                          for d, n in zip(default_dimensions(experiment), sizes))
        self.max_peaks = _max_peaks(experiment, MAX_RESIDUES)
        # residual water at 4.7 ppm, unit amplitude: a slowly decaying direct-dimension line, unmodulated in
        # the indirect dimensions (exp(i 0 t) = 1: in every cosine row, absent from the sine rows, so axial)
        water = P.PeakList(experiment, (), np.array([[4.7]]), np.array([1.0]), np.array([[8.0]]),
                           np.zeros((1, 1, 2)), np.array([0]))
        self._water = dimension_signals(water, self.dims[-1], 0)[:, 0]
        self._cosine_rows = (slice(0, None, 2),) * (len(self.dims) - 1)

    @classmethod
    def factory(cls, experiment: str):
        """A registry entry: ``from_overrides`` and ``(config)`` constructors bound to ``experiment``."""

        class _Bound(cls):
            def __init__(self, config=None):
                super().__init__(experiment, config)

            @classmethod
            def from_overrides(klass, overrides):
                return klass(merge_config({"sizes": list(SIZES[experiment]), "ranges": {}}, PARAMS, overrides))

        _Bound.__name__ = f"{experiment.capitalize()}Simulator"
        return _Bound

    def _shape(self) -> tuple[int, ...]:
        s = [2 * d.n_complex for d in self.dims[:-1]]
        return (*s, self.dims[-1].n_complex)

    def array_specs(self) -> dict[str, tuple[tuple[int, ...], str]]:
        nd = len(self.dims)
        return {
            "fid": (self._shape(), "complex64"),
            "clean": (self._shape(), "complex64"),
            "peaks": ((self.max_peaks, nd + 1), "float32"),
            "n_peaks": ((), "int16"),
            "params/n_residues": ((), "int16"),
            "params/noise_sd": ((), "float32"),
            "params/phase_deg": ((nd,), "float32"),
            "params/solvent_amplitude": ((), "float32"),
            "params/offset": ((), "float32"),
        }

    def simulate(self, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        specs = self.array_specs()
        out = {k: np.zeros((n, *shape), dtype=dtype) for k, (shape, dtype) in specs.items()}
        p = self._params
        for i in range(n):
            n_res = int(rng.integers(int(p["n_residues"].low), int(p["n_residues"].high) + 1))
            seq = P.random_sequence(n_res, rng)
            peaks = P.peak_list(self.name, seq, P.backbone_shifts(seq, rng), rng)
            phase = p["phase_deg"].sample(rng, len(self.dims))
            clean = synthesise(peaks, self.dims, rng)
            top = float(peaks.intensity.max())  # a single peak's amplitude at t = 0
            noise_sd = float(p["noise_frac"].sample(rng, 1)[0]) * top
            solvent = float(p["solvent_frac"].sample(rng, 1)[0]) * top if self.name != "methyl" else 0.0
            offset = float(p["offset_frac"].sample(rng, 1)[0]) * top
            noise = rng.standard_normal((2, *clean.shape), dtype=np.float32) * np.float32(noise_sd)
            fid = phase_errors(clean, np.deg2rad(phase)) + (noise[0] + 1j * noise[1])
            fid[self._cosine_rows] += (solvent * self._water).astype(np.complex64)  # axial water
            fid[..., 0] += np.float32(offset)  # receiver offset: the first point of every FID
            out["fid"][i], out["clean"][i] = fid, clean
            k = min(peaks.n_peaks, self.max_peaks)
            out["peaks"][i, :k] = np.column_stack([peaks.ppm, peaks.intensity])[:k]
            out["n_peaks"][i] = k
            out["params/n_residues"][i] = n_res
            out["params/noise_sd"][i] = noise_sd
            out["params/phase_deg"][i] = phase
            out["params/solvent_amplitude"][i] = solvent
            out["params/offset"][i] = offset
        return out
