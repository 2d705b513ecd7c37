"""Protein-like peak lists for 1H-15N HSQC/HMQC, methyl 1H-13C HMQC, HNCA and HN(CO)CA.

A random sequence (typical amino-acid frequencies) gets chemical shifts drawn
per residue from :mod:`simulators.nmr.shifts`; each experiment turns them into
peaks: positions (ppm, one column per dimension, direct dimension last),
intensities, transverse relaxation rates per dimension and the scalar
couplings that split lines in an indirect dimension. Relaxation scales with
molecular size through the rotational correlation time,
``tau_c [ns] ~ 0.6 * MW [kDa]`` (rigid globular proteins near 298 K).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from simulators.nmr import shifts

EXPERIMENTS = {
    # name: dimension nuclei, indirect first, direct last
    "hsqc": ("15N", "1H"),
    "methyl": ("13C", "1H"),
    "hnca": ("13C", "15N", "1H"),
    "hncoca": ("13C", "15N", "1H"),
}
#: R2 per ns of correlation time (1/s per ns), by nucleus kind; methyl groups relax slowly (fast spinning).
_R2_PER_NS = {"1H": 6.0, "15N": 1.6, "13C": 4.0, "methyl-1H": 1.2, "methyl-13C": 0.8}
#: One-bond 13Ca-13Cb and 13Ca-13C' couplings (Hz).
J_CA_CB_HZ = 35.0
J_CA_CO_HZ = 55.0
MEAN_RESIDUE_MASS_KDA = 0.110


@dataclasses.dataclass(frozen=True)
class PeakList:
    """Peaks of one simulated spectrum.

    Attributes
    ----------
    experiment : str
    nuclei : tuple of str
        Dimension labels, indirect first, direct last.
    ppm : ndarray (n_peaks, ndim)
    intensity : ndarray (n_peaks,)
    r2_per_s : ndarray (n_peaks, ndim)
        Transverse relaxation rates (linewidth = r2 / pi Hz).
    couplings_hz : ndarray (n_peaks, ndim, 2)
        Active couplings per dimension (0 = none): ``cos(pi J t)`` modulations.
    residue : ndarray (n_peaks,)
        0-based residue number the peak belongs to.
    """

    experiment: str
    nuclei: tuple
    ppm: np.ndarray
    intensity: np.ndarray
    r2_per_s: np.ndarray
    couplings_hz: np.ndarray
    residue: np.ndarray

    @property
    def n_peaks(self) -> int:
        return int(self.intensity.size)


def random_sequence(n_residues: int, rng: np.random.Generator) -> np.ndarray:
    """Residue-type indices (into :data:`shifts.RESIDUES`) of a random protein sequence."""
    return rng.choice(len(shifts.RESIDUES), size=int(n_residues), p=shifts.FREQUENCY)


def backbone_shifts(sequence, rng: np.random.Generator, *, spread: float = 1.0) -> np.ndarray:
    """Shifts (n_residues, 5) in ppm for :data:`shifts.NUCLEI`, NaN where the atom is absent.

    ``spread`` scales the per-type standard deviations (below 1: a crowded,
    unfolded-like spectrum; 1: folded proteins).
    """
    seq = np.asarray(sequence)
    mean, sd = shifts.MEAN_PPM[seq], shifts.SD_PPM[seq]
    return mean + spread * sd * rng.standard_normal(mean.shape)


def correlation_time_ns(n_residues: int) -> float:
    """Rotational correlation time of a rigid globular protein of this length."""
    return 0.6 * n_residues * MEAN_RESIDUE_MASS_KDA


def peak_list(experiment: str, sequence, shifts_ppm, rng: np.random.Generator, *,
              ca_cb_coupling: bool = True, ca_co_coupling: bool = False) -> PeakList:
    """Peaks of one experiment for a sequence and its shifts.

    Parameters
    ----------
    experiment : {"hsqc", "methyl", "hnca", "hncoca"}
    sequence : ndarray (n_residues,)
    shifts_ppm : ndarray (n_residues, 5)
        From :func:`backbone_shifts`.
    rng : numpy.random.Generator
        Intensity and linewidth variation, methyl shifts.
    ca_cb_coupling, ca_co_coupling : bool
        Leave the 35 Hz Ca-Cb (and 55 Hz Ca-C') couplings active in the 13C
        dimension of HNCA/HN(CO)CA (no constant time, no selective decoupling).
    """
    if experiment not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {experiment!r}; available: {', '.join(EXPERIMENTS)}")
    seq = np.asarray(sequence)
    n_res = seq.size
    tau_c = correlation_time_ns(n_res)
    nuclei = EXPERIMENTS[experiment]
    if experiment == "methyl":
        return _methyl_peaks(seq, rng, tau_c)
    has_h = ~np.isnan(shifts_ppm[:, 0])
    res = np.flatnonzero(has_h & (np.arange(n_res) > 0))  # residue 1 has a free NH3+ (no peak)
    h, n = shifts_ppm[res, 0], shifts_ppm[res, 1]
    if experiment == "hsqc":
        ppm = np.column_stack([n, h])
        inten = rng.uniform(0.3, 1.0, res.size)
        residue = res
        kinds = ("15N", "1H")
        coupl = np.zeros((res.size, 2, 2))
    else:
        own = experiment == "hnca"
        rows_ppm, rows_int, rows_res, rows_cb = [], [], [], []
        prev = np.column_stack([shifts_ppm[res - 1, 2], n, h])
        base = rng.uniform(0.3, 1.0, res.size)
        if own:
            rows_ppm.append(np.column_stack([shifts_ppm[res, 2], n, h]))
            rows_int.append(base)
            rows_res.append(res)
            rows_cb.append(~np.isnan(shifts_ppm[res, 3]))
        rows_ppm.append(prev)
        rows_int.append(base * (rng.uniform(0.3, 0.7, res.size) if own else 1.0))
        rows_res.append(res)
        rows_cb.append(~np.isnan(shifts_ppm[res - 1, 3]))
        ppm, inten = np.concatenate(rows_ppm), np.concatenate(rows_int)
        residue, has_cb = np.concatenate(rows_res), np.concatenate(rows_cb)
        kinds = ("13C", "15N", "1H")
        coupl = np.zeros((ppm.shape[0], 3, 2))
        if ca_cb_coupling:
            coupl[:, 0, 0] = np.where(has_cb, J_CA_CB_HZ, 0.0)
        if ca_co_coupling:
            coupl[:, 0, 1] = J_CA_CO_HZ
    r2 = _r2(kinds, tau_c, ppm.shape[0], rng)
    return PeakList(experiment, nuclei, ppm, inten, r2, coupl, residue)


def _r2(kinds, tau_c, n_peaks, rng):
    """Relaxation rates (n_peaks, ndim): size-scaled, with lognormal per-peak variation (flexible loops)."""
    base = np.array([_R2_PER_NS[k] * tau_c + 3.0 for k in kinds])
    return base[None, :] * np.exp(0.3 * rng.standard_normal((n_peaks, len(kinds))))


def _methyl_peaks(seq, rng, tau_c) -> PeakList:
    per_type = {"I": ("Ile-d1",), "L": ("Leu-d1", "Leu-d2"), "V": ("Val-g1", "Val-g2"), "A": ("Ala-b",),
                "M": ("Met-e",), "T": ("Thr-g2",)}
    groups, residue = [], []
    for i, code in enumerate(seq):
        for g in per_type.get(shifts.RESIDUES[code], ()):
            groups.append(g)
            residue.append(i)
    mean = np.array([[shifts.METHYLS[g][1][0], shifts.METHYLS[g][0][0]] for g in groups]).reshape(-1, 2)
    sd = np.array([[shifts.METHYLS[g][1][1], shifts.METHYLS[g][0][1]] for g in groups]).reshape(-1, 2)
    ppm = mean + sd * rng.standard_normal(mean.shape)
    inten = rng.uniform(0.3, 1.0, len(groups)) * 3.0  # three equivalent protons
    r2 = _r2(("methyl-13C", "methyl-1H"), tau_c, len(groups), rng)
    return PeakList("methyl", EXPERIMENTS["methyl"], ppm, inten, r2, np.zeros((len(groups), 2, 2)),
                    np.asarray(residue, dtype=np.int64))
