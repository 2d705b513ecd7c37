"""DEER (4-pulse double electron-electron resonance) trace simulator.

Physics
-------
For two electron spins at distance ``r`` the dipolar frequency is
``nu_dd = D / r**3`` with ``D = 52.04 MHz nm^3`` (two g = 2.0023 spins). The
powder-averaged dipolar kernel with exchange coupling ``J`` is

    K(t, r) = int_0^1 cos[(omega_dd (1 - 3 z^2) - omega_J) t] dz

which has the closed form in Fresnel integrals used in :func:`dipolar_kernel`
(exact, no orientation grid). A measured trace is

    V(t) = V0 * exp(i phi) * [(1 - lam) + lam * D(t)] * B(t) + noise,
    D(t) = int P(r) K(t, r) dr,  B(t) = exp(-(k |t|)^(d/3)).

Batch generation
----------------
The kernel depends on ``t`` and ``r`` only through ``nu_dd(r) * t``; scaling
time by ``s`` is the same as scaling distance by ``s**(1/3)``. Every trace is
therefore computed on one canonical time grid (window ``T0``) with distances
mapped by ``s = t_max / T0``, which turns the whole batch into a few matrix
products against cached kernels. The only per-trace choice the kernel cache
depends on is the canonical pre-zero time, drawn on a fine grid (8 ns in the
canonical frame), so the simulated physics is exact for the drawn time axis.
"""

from __future__ import annotations

import functools
from typing import Any, Mapping

import numpy as np
from scipy import constants as _const
from scipy import special

from simulators.params import Param, merge_config

#: Dipolar constant for two free-electron spins, MHz nm^3: mu0 muB^2 ge^2 / (4 pi h), CODATA values.
D_MHZ_NM3 = (
    _const.mu_0 / (4 * np.pi) * _const.physical_constants["Bohr magneton"][0] ** 2
    * (-_const.physical_constants["electron g factor"][0]) ** 2 / _const.h * 1e27 / 1e6
)

VERSION = "1.2"  # 1.1: float32 synthesis, fast normal CDF; 1.2: Box-Muller noise, "clean" only on request
NAME = "deer"
SHAPES = ("gauss", "skewnorm", "flat")
MAX_COMPONENTS = 4
CANONICAL_T_MAX_US = 4.0
#: Canonical pre-zero times are multiples of this (canonical frame, us).
PRE_STEP_US = 0.008
#: Distance grid (canonical frame) over which the kernel integral is taken.
KERNEL_R_NM = np.geomspace(0.75, 20.0, 448)
#: Shortest physical distance (nm): below it P(r) is zero (closer spins are not point dipoles).
R_MIN_NM = 1.0

PARAMS = (
    Param("t_max_us", "us", 1.0, 8.0, "log-uniform", "Dipolar evolution window after zero time."),
    Param("t_pre_us", "us", 0.0, 0.4, "uniform", "Time recorded before zero time (capped at 15 % of the window)."),
    Param("zero_time_us", "us", -0.03, 0.03, "uniform",
          "Error of the reported time axis: reported time of the true zero."),
    Param("n_components", "", 1, 4, "uniform", "Number of distance components (integer)."),
    Param("mean_nm", "nm", 1.5, 8.0, "uniform", "Component location."),
    Param("rel_width", "", 0.025, 0.5, "log-uniform", "Component standard deviation as a fraction of its location."),
    Param("width_max_nm", "nm", 3.25, 3.25, "fixed",
          "Upper cap on a component's standard deviation (half the mean range)."),
    Param("skew", "", -6.0, 6.0, "uniform", "Skew-normal shape parameter alpha."),
    Param("weight", "", 0.15, 1.0, "uniform", "Unnormalised component weight."),
    Param("mod_depth", "", 0.01, 1.0, "log-uniform", "Modulation depth lambda."),
    Param("bg_decay", "", 0.0, 1.5, "uniform", "Background decay over the window, k * t_max."),
    Param("bg_dim", "", 2.0, 3.5, "uniform", "Background dimensionality d (3 = homogeneous 3D)."),
    Param("noise_frac", "", 0.0, 0.1, "uniform", "Noise standard deviation as a fraction of the modulation depth."),
    Param("phase_rad", "rad", -np.pi, np.pi, "uniform", "Receiver phase error."),
    Param("exchange_mhz", "MHz", -2.0, 2.0, "uniform", "Exchange coupling J (applied to a fraction of traces)."),
    Param("scale", "", 0.1, 1e4, "log-uniform", "Overall amplitude V0 of the measured trace."),
)

DEFAULTS: dict[str, Any] = {
    "n_points": 256,
    "r_min_nm": 1.0,
    "r_max_nm": 10.0,
    "n_r": 256,
    "shapes": list(SHAPES),
    "bg_stretched_frac": 0.3,
    "exchange_frac": 0.1,
    "complex": True,
    "clean": False,
    "ranges": {},
}


def dipolar_frequency_mhz(r_nm):
    """Dipolar frequency nu_dd = D / r^3 in MHz for distances in nm."""
    return D_MHZ_NM3 / np.asarray(r_nm, dtype=float) ** 3


def _fresnel_cos_sin(a):
    """Return (int_0^1 cos(a z^2) dz, int_0^1 sin(a z^2) dz) for a >= 0, elementwise."""
    a = np.asarray(a, dtype=float)
    small = a < 1e-6
    a_safe = np.where(small, 1.0, a)
    u = np.sqrt(2.0 * a_safe / np.pi)
    s_u, c_u = special.fresnel(u)
    pref = np.sqrt(np.pi / (2.0 * a_safe))
    ic = np.where(small, 1.0 - a**2 / 10.0, pref * c_u)
    is_ = np.where(small, a / 3.0, pref * s_u)
    return ic, is_


def dipolar_kernel_terms(t_us, r_nm):
    """Cosine and sine parts of the powder-averaged dipolar kernel.

    Parameters
    ----------
    t_us : array_like, shape (nt,)
        Dipolar evolution times (us); negative times allowed.
    r_nm : array_like, shape (nr,)
        Distances (nm).

    Returns
    -------
    k_cos, k_sin : numpy.ndarray, shape (nt, nr)
        ``int_0^1 cos(w t (1 - 3z^2)) dz`` and ``int_0^1 sin(w t (1 - 3z^2)) dz``
        with ``w = 2 pi nu_dd(r)``. The kernel with exchange ``J`` is
        ``cos(2 pi J t) k_cos + sin(2 pi J t) k_sin``.
    """
    t = np.asarray(t_us, dtype=float)[:, None]
    w = 2.0 * np.pi * dipolar_frequency_mhz(r_nm)[None, :]
    phi = w * t  # signed
    ic, is_ = _fresnel_cos_sin(3.0 * np.abs(phi))
    sgn = np.sign(phi)
    cos_phi, sin_phi = np.cos(phi), np.sin(phi)
    # cos(phi - 3 phi z^2) = cos(phi) cos(3 phi z^2) + sin(phi) sin(3 phi z^2)
    k_cos = cos_phi * ic + sgn * sin_phi * is_
    # sin(phi - 3 phi z^2) = sin(phi) cos(3 phi z^2) - cos(phi) sin(3 phi z^2)
    k_sin = sin_phi * ic - sgn * cos_phi * is_
    return k_cos, k_sin


def dipolar_kernel(t_us, r_nm, *, exchange_mhz: float = 0.0, integrate: bool = False):
    """Powder-averaged dipolar kernel K(t, r) (exact, via Fresnel integrals).

    Parameters
    ----------
    t_us : array_like, shape (nt,)
        Dipolar evolution times in us.
    r_nm : array_like, shape (nr,)
        Distances in nm.
    exchange_mhz : float, optional
        Exchange coupling J in MHz.
    integrate : bool, optional
        Multiply each column by its distance increment (trapezoid weights), so
        that ``K @ P`` approximates ``int P(r) K(t, r) dr``.

    Returns
    -------
    numpy.ndarray, shape (nt, nr)
    """
    t = np.asarray(t_us, dtype=float)
    r = np.asarray(r_nm, dtype=float)
    k_cos, k_sin = dipolar_kernel_terms(t, r)
    wj = 2.0 * np.pi * exchange_mhz * t[:, None]
    kernel = np.cos(wj) * k_cos + np.sin(wj) * k_sin
    if integrate:
        kernel = kernel * _trapezoid_weights(r)[None, :]
    return kernel


def _trapezoid_weights(x):
    """Trapezoid quadrature weights of a 1D grid (see :func:`_row_weights` for one grid per row)."""
    x = np.asarray(x, dtype=float)
    return np.ones_like(x) if x.size < 2 else _row_weights(x[None, :])[0]


#: Floor of exponents in the densities: exp(-60) ~ 1e-26 stays a normal float32. Subnormal tails
#: (exp of large negative numbers) slow every later arithmetic and the kernel matrix product ~8x.
_EXP_FLOOR = -60.0


# Abramowitz & Stegun 7.1.26: erfc(x) = t (a1 + t (a2 + ...)) exp(-x^2), t = 1 / (1 + p x), x >= 0
_AS_P = 0.3275911
_AS_A = (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592)


def normal_cdf(z):
    """Standard normal CDF, vectorised, to 1e-7 absolute (float32 in, float32 out).

    About 5x faster than :func:`scipy.special.ndtr` (18 ns per value here),
    which dominated the cost of skew-normal distributions. Every step is in
    place on two work arrays (21 passes over the data).
    """
    z = np.asarray(z, dtype=np.float32)
    t = np.abs(z)
    t *= np.float32(_AS_P / np.sqrt(2))
    t += np.float32(1.0)
    np.reciprocal(t, out=t)
    q = t * np.float32(-0.5 * _AS_A[0])  # -erfc(|z| / sqrt 2) / 2 by Horner's rule, coefficients times -1/2
    for a in _AS_A[1:]:
        q += np.float32(-0.5 * a)
        q *= t
    e = np.square(z, out=t)
    e *= np.float32(-0.5)
    np.maximum(e, _EXP_FLOOR, out=e)
    np.exp(e, out=e)
    q *= e
    q += np.float32(0.5)  # P(0 < Z < |z|)
    np.copysign(q, z, out=q)  # (np.where is several times slower here)
    q += np.float32(0.5)
    return q


def component_pdf(r_nm, shape_code: int, loc_nm, width_nm, skew):
    """Density of one kind of distance component, broadcast over leading axes.

    Parameters
    ----------
    r_nm : ndarray, broadcastable
        Distances (nm).
    shape_code : int
        Index into :data:`SHAPES`: 0 Gaussian, 1 skew-normal, 2 flat-topped
        (generalised normal of power 4, same standard deviation).
    loc_nm, width_nm, skew : ndarray
        Location, standard deviation (Gaussian, flat-topped) or scale
        (skew-normal), and skew-normal alpha.
    """
    inv_w = 1.0 / width_nm
    z = (r_nm - loc_nm) * inv_w
    if shape_code == 2:
        z *= 0.5813  # std = a * sqrt(Gamma(3/4) / Gamma(1/4)) with a the generalised-normal scale
        z *= z
        z *= z
        np.negative(z, out=z)
        np.maximum(z, _EXP_FLOOR, out=z)
        np.exp(z, out=z)
        z *= inv_w * (0.5813 / (2 * 0.9064))  # Gamma(5/4) = 0.9064
        return z
    dens = z * z
    dens *= -0.5
    np.maximum(dens, _EXP_FLOOR, out=dens)
    np.exp(dens, out=dens)
    dens *= inv_w * (1.0 / np.sqrt(2 * np.pi))
    if shape_code == 1:
        z *= skew
        dens *= 2.0 * normal_cdf(z)
        np.maximum(dens, 1e-30, out=dens)  # the far skewed tail underflows to subnormals otherwise
    return dens


def distance_distribution(r_nm, components: Mapping[str, np.ndarray], *, normalise: bool = True):
    """P(r) of a batch of mixtures, normalised to unit area on ``r_nm``.

    Parameters
    ----------
    r_nm : ndarray, shape (nr,) or (batch, nr)
        Distances; one grid for all, or one row per mixture.
    components : mapping
        ``shape`` (int), ``mean_nm``, ``width_nm``, ``skew``, ``weight``,
        each of shape (batch, MAX_COMPONENTS); weight 0 marks an unused slot.

    normalise : bool, optional
        Scale each row to unit trapezoid area (default); otherwise return the
        mixture density as evaluated.

    Returns
    -------
    numpy.ndarray, shape (batch, nr), float32
    """
    r = np.asarray(r_nm, dtype=np.float32)
    if r.ndim == 1:
        p = mixture_density(r_nm, components)
    else:
        p = _mixture_density_rows(r, components)
    if not normalise:
        return p
    area = p @ _trapezoid_weights(r).astype(np.float32) if r.ndim == 1 else np.sum(p * _row_weights(r), axis=1)
    area = np.where(area > 0, area, 1.0).astype(np.float32)
    p /= area[:, None]
    return p


def _mixture_density_rows(r, components):
    """Mixture densities with one distance grid per row (component by component)."""
    weight = np.asarray(components["weight"])
    p = np.zeros((weight.shape[0], r.shape[-1]), dtype=np.float32)
    codes = np.asarray(components["shape"])
    params = {k: np.asarray(components[k], dtype=np.float32) for k in ("mean_nm", "width_nm", "skew", "weight")}
    for slot in range(weight.shape[1]):
        for code in np.unique(codes[:, slot]):
            i = np.flatnonzero((codes[:, slot] == code) & (weight[:, slot] > 0))
            if i.size == 0:
                continue
            col = {k: v[i, slot][:, None] for k, v in params.items()}
            p[i] += col["weight"] * component_pdf(r[i], int(code), col["mean_nm"], col["width_nm"], col["skew"])
    return p


_LN_INV_SQRT_2PI = -0.5 * np.log(2 * np.pi)
_FLAT_A = 0.5813  # generalised normal of power 4 with unit standard deviation: exp(-(0.5813 z)^4)
_FLAT_NORM = 0.5813 / (2 * 0.9064)  # its normalisation (Gamma(5/4) = 0.9064)


def _weighted_component_rows(lin, code: int, mean, width, skew, weight):
    """``weight * density`` of components of one shape on a grid (float32, one row per component).

    ``z``, ``(r - mean) / width`` scaled so that the exponent is ``-z**2`` (``-z**4``
    for the flat-topped shape), is one float32 matrix product for all rows with
    ``lin = [r, 1]``; the log-weight is folded into the exponent, so a
    Gaussian costs five passes over its output (a term-by-term evaluation
    with gathers took three times as long). The exponent is floored so that
    no density becomes subnormal: subnormals make the later kernel product 2x slower.
    """
    inv_w = 1.0 / width
    b = mean * inv_w
    if code == 2:
        inv_w, b = inv_w * _FLAT_A, b * _FLAT_A
        ln_coef = np.log(weight * inv_w * (_FLAT_NORM / _FLAT_A))
    else:
        inv_w, b = inv_w * np.sqrt(0.5), b * np.sqrt(0.5)
        ln_coef = np.log(weight * inv_w * (2.0 if code == 1 else 1.0) * np.sqrt(2.0)) + _LN_INV_SQRT_2PI
    z = np.stack([inv_w, -b], 1).astype(np.float32) @ lin
    dens = np.square(z)
    if code == 2:
        np.square(dens, out=dens)
    np.subtract(ln_coef.astype(np.float32)[:, None], dens, out=dens)
    # with the skew-normal's CDF factor (floored at 1e-10) the product stays >= 4e-28, and its
    # products with the kernel (>= 2e-10) stay in float32's normal range
    np.maximum(dens, _EXP_FLOOR + 20 if code == 1 else _EXP_FLOOR, out=dens)
    np.exp(dens, out=dens)
    if code == 1:
        z *= (skew * np.sqrt(2.0)).astype(np.float32)[:, None]
        cdf = normal_cdf(z)
        np.maximum(cdf, 1e-10, out=cdf)
        dens *= cdf
    return dens


def mixture_density(r_nm, components: Mapping[str, np.ndarray], *, scale=None) -> np.ndarray:
    """Unnormalised mixture densities of a batch on one distance grid (fast path of the simulator).

    Parameters
    ----------
    r_nm : array_like, shape (nr,)
        Distances (nm), one grid for every row.
    components : mapping
        As for :func:`distance_distribution`.
    scale : array_like, shape (batch,), optional
        Divide each row's locations and widths by this factor (the density
        keeps its shape; its overall factor is left out, as normalising removes it).

    Returns
    -------
    numpy.ndarray, shape (batch, nr), float32
        ``sum_k weight_k * density_k(r)``.

    Notes
    -----
    Rows are evaluated in blocks whose arrays stay in the CPU cache. Within a
    block, the components of one shape in every slot are evaluated together
    (few, large numpy calls: the Python overhead of many small ones also holds
    the GIL against the other simulating threads).
    """
    n = np.shape(components["weight"])[0]
    if n > _BLOCK_ROWS:
        out = np.empty((n, np.size(r_nm)), dtype=np.float32)
        for start in range(0, n, _BLOCK_ROWS):
            rows = slice(start, start + _BLOCK_ROWS)
            out[rows] = mixture_density(r_nm, {k: np.asarray(v)[rows] for k, v in components.items()},
                                        scale=None if scale is None else np.asarray(scale)[rows])
        return out
    r = np.asarray(r_nm, dtype=np.float64)
    lin = np.stack([r, np.ones_like(r)]).astype(np.float32)
    weight = np.asarray(components["weight"], dtype=np.float64)
    mean = np.asarray(components["mean_nm"], dtype=np.float64)
    width = np.asarray(components["width_nm"], dtype=np.float64)
    if scale is not None:
        s = np.asarray(scale, dtype=np.float64)[:, None]
        mean, width = mean / s, width / s
    skew = np.asarray(components["skew"], dtype=np.float64)
    code = np.where(weight > 0, np.asarray(components["shape"]), -1)
    p = np.zeros((n, r.size), dtype=np.float32)
    for c in np.unique(code[code >= 0]):
        slots, rows = np.nonzero(code.T == c)  # slot-major: within one slot every row appears once
        dens = _weighted_component_rows(lin, int(c), mean[rows, slots], width[rows, slots], skew[rows, slots],
                                        weight[rows, slots])
        edges = np.r_[0, np.flatnonzero(np.diff(slots)) + 1, rows.size]
        for a, b in zip(edges[:-1], edges[1:]):
            p[rows[a:b]] += dens[a:b]
    return p


def _row_weights(r2):
    d = np.diff(r2, axis=1)
    w = np.empty_like(r2)
    w[:, 0] = d[:, 0] / 2
    w[:, -1] = d[:, -1] / 2
    w[:, 1:-1] = (d[:, :-1] + d[:, 1:]) / 2
    return w


_CELL_SUBPOINTS = 6
#: Rows simulated together in the deterministic part (arrays of a block stay in the CPU cache).
_BLOCK_ROWS = 512
_KERNEL_R_WEIGHTS = _trapezoid_weights(KERNEL_R_NM).astype(np.float32)


_TABLE_STEP = 1e-3  # in cycles of the dipolar frequency (nu_dd * t)


def _cell_kernel_table(x_max: float | None = None):
    """Cell-averaged kernel as a function of x = nu_dd * t >= 0 (cycles), tabulated up to at least ``x_max``.

    On a log-spaced distance grid every cell spans the same ratio of
    frequencies, so the kernel averaged over a cell depends on ``x`` alone and
    one table serves every cell; averaging makes short distances, whose phase
    changes fast with r at long times, integrate out instead of aliasing.
    Tables are built for powers of two of cycles (the simulator's full range,
    ~500 cycles, costs 0.5 s once; the ~60 cycles a DEER analysis needs, 0.06 s).
    """
    if x_max is None:
        ratio = KERNEL_R_NM[1] / KERNEL_R_NM[0]
        x_max = float(dipolar_frequency_mhz(KERNEL_R_NM[0])) * CANONICAL_T_MAX_US * ratio**3 * 1.01
    return _cell_kernel_table_upto(int(2 ** np.ceil(np.log2(max(float(x_max), 1.0)))))


@functools.lru_cache(maxsize=4)
def _cell_kernel_table_upto(cycles: int):
    ratio = KERNEL_R_NM[1] / KERNEL_R_NM[0]
    x = np.arange(0.0, cycles + 2 * _TABLE_STEP, _TABLE_STEP)
    r_unit = np.cbrt(D_MHZ_NM3)  # distance of a 1 MHz dipolar frequency: t in us = x
    k_cos = np.zeros_like(x)
    k_sin = np.zeros_like(x)
    for f in ratio ** ((np.arange(_CELL_SUBPOINTS) + 0.5) / _CELL_SUBPOINTS - 0.5):
        kc, ks = dipolar_kernel_terms(x, [r_unit * f])
        k_cos += kc[:, 0]
        k_sin += ks[:, 0]
    return x, k_cos / _CELL_SUBPOINTS, k_sin / _CELL_SUBPOINTS


def dipolar_kernel_tabulated(t_us, r_nm):
    """Fast dipolar kernel K(t, r) (no exchange) by interpolation in a cached table of nu_dd * t.

    Each value is the kernel averaged over a 0.7 % wide distance cell (the
    simulator's kernel grid), which is what a discretised P(r) represents; it
    agrees with :func:`dipolar_kernel` applied to a smooth P(r) to ~1e-4 (tested to
    5e-4), and is about 4x faster (1.2 ms vs 4.4 ms for 256 x 141 points, measured).
    """
    x = np.abs(np.asarray(t_us, dtype=float)[:, None] * dipolar_frequency_mhz(r_nm)[None, :])
    if not x.size:
        return x
    if x.max() > 4096:  # beyond any sensible DEER window: the exact kernel
        return dipolar_kernel(t_us, r_nm)
    x_tab, c_tab, _ = _cell_kernel_table(x.max())
    pos = x / _TABLE_STEP  # uniform table: index arithmetic instead of np.interp's search
    i0 = pos.astype(np.int64)
    f = pos - i0
    return c_tab[i0] * (1.0 - f) + c_tab[i0 + 1] * f


def _canonical_kernels(pre_steps: int, n_points: int):
    """Cell-averaged cosine/sine kernels (float32) on the canonical grid, ``pre_steps * PRE_STEP_US`` before zero."""
    t_pre = pre_steps * PRE_STEP_US
    tau = np.linspace(-t_pre, CANONICAL_T_MAX_US, n_points)
    _, c_tab, s_tab = _cell_kernel_table()
    x = tau[:, None] * dipolar_frequency_mhz(KERNEL_R_NM)[None, :]
    # linear interpolation on the uniform table by index arithmetic (np.interp's search is ~10x slower)
    pos = np.abs(x) / _TABLE_STEP
    i0 = pos.astype(np.int64)
    f = pos - i0
    k_cos = c_tab[i0] * (1.0 - f) + c_tab[i0 + 1] * f
    k_sin = np.sign(x) * (s_tab[i0] * (1.0 - f) + s_tab[i0 + 1] * f)
    return k_cos.astype(np.float32), k_sin.astype(np.float32), tau


@functools.lru_cache(maxsize=256)
def _quadrature_kernels(pre_steps: int, n_points: int):
    """Cosine and sine kernels side by side, times the quadrature weights of :data:`KERNEL_R_NM`.

    Returns ``(k, tau)``: ``k`` is (nr, 2 n_points) float32, so that ``p @ k[:, :n_points]``
    integrates an unnormalised P(r) against the cosine kernel and ``p @ k`` gives both.
    """
    k_cos, k_sin, tau = _canonical_kernels(pre_steps, n_points)
    k = np.concatenate([k_cos.T, k_sin.T], axis=1) * _KERNEL_R_WEIGHTS[:, None]
    return np.ascontiguousarray(k, dtype=np.float32), tau.astype(np.float32)


def _zero_below_r_min(p: np.ndarray, s13: np.ndarray) -> None:
    """Set P(r) on :data:`KERNEL_R_NM` to zero below ``R_MIN_NM / s13`` (per row, in place)."""
    cut = R_MIN_NM / s13
    k = int(np.searchsorted(KERNEL_R_NM, cut.max()))
    if k:
        p[:, :k] *= KERNEL_R_NM[None, :k] >= cut[:, None]


class DeerSimulator:
    """Batch simulator of 4-pulse DEER traces with ground truth.

    Parameters
    ----------
    config : mapping, optional
        Overrides of :data:`DEFAULTS` and of parameter ranges (``ranges``
        maps a :data:`PARAMS` name to ``[low, high]``), as given by
        ``mrml simulate deer --set key=value``.

    Notes
    -----
    :meth:`simulate` returns a dict of arrays, the sample axis first:

    - ``x`` (n, n_points) complex64: measured trace on the reported axis
      ``t_start_us + dt_us * arange(n_points)`` (real float32 if ``complex`` is false);
    - ``clean`` (n, n_points) float32: noise- and phase-free trace ``V/V0``, only with
      ``--set clean=true`` (no training reads it, and it is a quarter of a stored trace's bytes);
    - ``y`` (n, n_r) float32: P(r) on ``r_min_nm..r_max_nm`` (unit area);
    - ``params/<name>``: per-trace ground truth (components as (n, 4)).
    """

    name = NAME
    version = VERSION
    params = PARAMS

    def __init__(self, config: Mapping[str, Any] | None = None):
        self.config = merge_config(DEFAULTS, PARAMS, {}) if config is None else _normalise(config)
        ranges = self.config.get("ranges", {})
        self._params = {p.name: p.with_range(*ranges[p.name]) if p.name in ranges else p for p in PARAMS}
        bad = set(self.config["shapes"]) - set(SHAPES)
        if bad or not self.config["shapes"]:
            raise ValueError(f"shapes must be a non-empty subset of {SHAPES}, got {self.config['shapes']}")
        if int(self.config["n_points"]) < 16:
            raise ValueError("n_points must be at least 16")
        self.n_points = int(self.config["n_points"])
        self.r_nm = np.linspace(float(self.config["r_min_nm"]), float(self.config["r_max_nm"]), int(self.config["n_r"]))

    @classmethod
    def from_overrides(cls, overrides: Mapping[str, Any]) -> DeerSimulator:
        """Build from ``--set`` style overrides of the defaults."""
        return cls(merge_config(DEFAULTS, PARAMS, overrides))

    def param(self, name: str) -> Param:
        """The parameter declaration in force (with overridden range)."""
        return self._params[name]

    def array_specs(self) -> dict[str, tuple[tuple[int, ...], str]]:
        """Per-sample shape and dtype of every output array."""
        x_dtype = "complex64" if self.config["complex"] else "float32"
        specs = {"x": ((self.n_points,), x_dtype), "y": ((self.r_nm.size,), "float32")}
        if self.config["clean"]:
            specs["clean"] = ((self.n_points,), "float32")
        for key in ("t_start_us", "dt_us", "zero_time_us", "t_max_us", "mod_depth", "bg_k_per_us", "bg_dim",
                    "noise_std", "phase_rad", "exchange_mhz", "scale"):
            specs[f"params/{key}"] = ((), "float64")
        specs["params/n_components"] = ((), "int8")
        for key in ("comp_mean_nm", "comp_width_nm", "comp_skew", "comp_weight"):
            specs[f"params/{key}"] = ((MAX_COMPONENTS,), "float32")
        specs["params/comp_shape"] = ((MAX_COMPONENTS,), "int8")
        return specs

    # ------------------------------------------------------------------ sampling
    def sample_parameters(self, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Draw the ground-truth parameters of ``n`` traces."""
        p = self._params
        t_max = p["t_max_us"].sample(rng, n)
        s = t_max / CANONICAL_T_MAX_US
        t_pre = np.minimum(p["t_pre_us"].sample(rng, n), 0.15 * t_max)
        pre_steps = np.round(t_pre / s / PRE_STEP_US).astype(np.int64)
        t_pre = pre_steps * PRE_STEP_US * s  # exact for the cached canonical grid

        lo, hi = int(p["n_components"].low), int(p["n_components"].high)
        n_comp = rng.integers(lo, hi + 1, n)
        slot = np.arange(MAX_COMPONENTS)[None, :]
        used = slot < n_comp[:, None]
        shape = (n, MAX_COMPONENTS)
        allowed = np.array([SHAPES.index(s_) for s_ in self.config["shapes"]])
        comp_shape = allowed[rng.integers(0, allowed.size, shape)]
        mean = p["mean_nm"].sample(rng, shape)
        width = np.minimum(p["rel_width"].sample(rng, shape) * mean, p["width_max_nm"].low)
        skew = np.where(comp_shape == 1, p["skew"].sample(rng, shape), 0.0)
        weight = np.where(used, p["weight"].sample(rng, shape), 0.0)
        weight = weight / weight.sum(axis=1, keepdims=True)

        stretched = rng.random(n) < float(self.config["bg_stretched_frac"])
        bg_dim = np.where(stretched, p["bg_dim"].sample(rng, n), 3.0)
        exch = rng.random(n) < float(self.config["exchange_frac"])
        return {
            "t_max_us": t_max,
            "t_pre_us": t_pre,
            "pre_steps": pre_steps,
            "zero_time_us": p["zero_time_us"].sample(rng, n),
            "n_components": n_comp.astype(np.int8),
            "comp_shape": np.where(used, comp_shape, 0).astype(np.int8),
            "comp_mean_nm": np.where(used, mean, 0.0),
            "comp_width_nm": np.where(used, width, 1.0),
            "comp_skew": skew,
            "comp_weight": weight,
            "mod_depth": p["mod_depth"].sample(rng, n),
            "bg_k_per_us": p["bg_decay"].sample(rng, n) / t_max,
            "bg_dim": bg_dim,
            "noise_frac": p["noise_frac"].sample(rng, n),
            "phase_rad": p["phase_rad"].sample(rng, n),
            "exchange_mhz": np.where(exch, p["exchange_mhz"].sample(rng, n), 0.0),
            "scale": p["scale"].sample(rng, n),
        }

    # ---------------------------------------------------------------- synthesis
    def dipolar_signal(self, prm: Mapping[str, np.ndarray]) -> np.ndarray:
        """Noise-free intramolecular signal D(t) (n, n_points) on each trace's true time axis.

        Component locations and widths scale by ``1 / s13`` with ``s13 =
        (t_max / T0)^(1/3)`` in each trace's canonical frame, so every row
        shares the 1D kernel grid. Rows are taken in order of their canonical
        pre-zero time (rows with exchange coupling first): the rows of one
        pre-zero time are one matrix product, on contiguous rows, with that
        time's cached kernel, which is read from memory once per call.
        """
        n, npts = prm["t_max_us"].shape[0], self.n_points
        exchange = np.asarray(prm["exchange_mhz"])
        order = np.lexsort((exchange == 0, prm["pre_steps"]))
        pre = np.asarray(prm["pre_steps"])[order]
        s13 = np.cbrt(np.asarray(prm["t_max_us"])[order] / CANONICAL_T_MAX_US)
        comps = {k: np.asarray(v)[order] for k, v in _components(prm).items()}
        exchange = exchange[order]
        signal = np.empty((n, npts), dtype=np.float32)
        ex_rows = np.flatnonzero(exchange != 0)
        sine = np.empty((ex_rows.size, npts), dtype=np.float32)  # sine-kernel integrals of those rows
        t_ex = np.empty((ex_rows.size, npts), dtype=np.float32)  # and their canonical times
        p = mixture_density(KERNEL_R_NM, comps, scale=s13)
        _zero_below_r_min(p, s13)
        edges = np.r_[0, np.flatnonzero(np.diff(pre)) + 1, n]
        for g0, g1 in zip(edges[:-1], edges[1:]):
            k, tau = _quadrature_kernels(int(pre[g0]), npts)
            n_ex = int(np.count_nonzero(exchange[g0:g1]))  # leading rows of the group
            if n_ex:
                both = p[g0:g0 + n_ex] @ k
                signal[g0:g0 + n_ex] = both[:, :npts]
                at = np.searchsorted(ex_rows, g0)
                sine[at:at + n_ex] = both[:, npts:]
                t_ex[at:at + n_ex] = tau
            np.matmul(p[g0 + n_ex:g1], k[:, :npts], out=signal[g0 + n_ex:g1])
        norm = p @ _KERNEL_R_WEIGHTS
        signal /= norm[:, None]
        if ex_rows.size:  # exchange coupling J mixes in the sine kernel: cos(2 pi J t) Dc + sin(2 pi J t) Ds
            t_ex *= (np.asarray(prm["t_max_us"])[order][ex_rows] / CANONICAL_T_MAX_US).astype(np.float32)[:, None]
            t_ex *= (2 * np.pi * exchange[ex_rows]).astype(np.float32)[:, None]
            sine /= norm[ex_rows, None]
            signal[ex_rows] = np.cos(t_ex) * signal[ex_rows] + np.sin(t_ex) * sine
        out = np.empty_like(signal)
        out[order] = signal
        return out

    def simulate(self, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Simulate ``n`` traces; see the class notes for the returned arrays."""
        prm = self.sample_parameters(n, rng)
        return self.synthesise(prm, rng)

    def synthesise(self, prm: Mapping[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Turn sampled parameters into traces (noise drawn from ``rng``)."""
        n = prm["t_max_us"].shape[0]
        npts = self.n_points
        t_max, t_pre = prm["t_max_us"], prm["t_pre_us"]
        dt = (t_max + t_pre) / (npts - 1)
        t_true = np.arange(npts, dtype=np.float32)[None, :] * dt.astype(np.float32)[:, None]
        t_true -= t_pre.astype(np.float32)[:, None]
        lam = prm["mod_depth"][:, None].astype(np.float32)
        clean = self.dipolar_signal(prm)
        clean *= lam
        clean += 1.0 - lam
        kt = np.abs(t_true)
        kt *= prm["bg_k_per_us"][:, None].astype(np.float32)
        stretched = prm["bg_dim"] != 3.0
        if np.any(stretched):
            kt[stretched] **= (prm["bg_dim"][stretched, None] / 3.0).astype(np.float32)
        np.negative(kt, out=kt)
        clean *= np.exp(kt, out=kt)
        noise_std = prm["noise_frac"] * prm["mod_depth"]
        scale = prm["scale"]
        noise_amp = (noise_std * scale).astype(np.float32)[:, None]
        if self.config["complex"]:
            x = _add_complex_noise(clean, (np.exp(1j * prm["phase_rad"]) * scale).astype(np.complex64),
                                   noise_amp, rng)
        else:
            x = rng.standard_normal((n, npts), dtype=np.float32)
            x *= noise_amp
            x += clean * scale.astype(np.float32)[:, None]
        y = distance_distribution(self.r_nm, _components(prm)).astype(np.float32)
        out = {"x": x, "y": y}
        if self.config["clean"]:
            out["clean"] = clean
        out["params/t_start_us"] = -t_pre + prm["zero_time_us"]
        out["params/dt_us"] = dt
        out["params/noise_std"] = noise_std
        for key in ("zero_time_us", "t_max_us", "mod_depth", "bg_k_per_us", "bg_dim", "phase_rad",
                    "exchange_mhz", "scale"):
            out[f"params/{key}"] = np.asarray(prm[key], dtype=np.float64)
        out["params/n_components"] = np.asarray(prm["n_components"], dtype=np.int8)
        for key in ("comp_mean_nm", "comp_width_nm", "comp_skew", "comp_weight"):
            out[f"params/{key}"] = np.asarray(prm[key], dtype=np.float32)
        out["params/comp_shape"] = np.asarray(prm["comp_shape"], dtype=np.int8)
        return out


def _add_complex_noise(clean, phasor, noise_amp, rng: np.random.Generator) -> np.ndarray:
    """``clean * phasor + noise_amp * (n1 + i n2)`` as complex64, with standard normals n1, n2 by Box-Muller.

    Box-Muller on float32 uniforms costs half of ``Generator.standard_normal``
    here (its float32 ziggurat ran at 10 ns per value); a uniform draw is a
    multiple of 2**-24, so the radius, and each normal, is at most 5.77 (a
    tail probability of 8e-9 per value is lost).
    """
    n, npts = clean.shape
    rad, ang = rng.random((2, n, npts), dtype=np.float32)
    np.subtract(np.float32(1.0), rad, out=rad)  # (0, 1]
    np.log(rad, out=rad)
    rad *= np.float32(-2.0)
    np.sqrt(rad, out=rad)
    rad *= noise_amp
    ang *= np.float32(2 * np.pi)
    parts = np.empty((n, npts, 2), dtype=np.float32)
    noise, signal = np.empty_like(clean), np.empty_like(clean)
    for k, (trig, factor) in enumerate(((np.cos, phasor.real), (np.sin, phasor.imag))):
        trig(ang, out=noise)
        noise *= rad
        np.multiply(clean, factor[:, None], out=signal)
        noise += signal
        parts[..., k] = noise
    return parts.view(np.complex64)[..., 0]


def _components(prm):
    return {
        "shape": prm["comp_shape"],
        "mean_nm": prm["comp_mean_nm"],
        "width_nm": prm["comp_width_nm"],
        "skew": prm["comp_skew"],
        "weight": prm["comp_weight"],
    }


def _normalise(config: Mapping[str, Any]) -> dict:
    """Fill missing keys of a stored or user config from the defaults."""
    merged = {**DEFAULTS, **dict(config)}
    merged["ranges"] = {k: list(v) for k, v in dict(merged.get("ranges") or {}).items()}
    unknown = set(merged["ranges"]) - {p.name for p in PARAMS}
    if unknown:
        raise KeyError(f"unknown parameter range(s): {sorted(unknown)}")
    merged["shapes"] = list(merged["shapes"])
    return merged


def reported_time_axis(t_start_us, dt_us, n_points: int) -> np.ndarray:
    """Reported time axes (n, n_points) from stored ``t_start_us`` and ``dt_us``."""
    t0 = np.atleast_1d(np.asarray(t_start_us, dtype=float))
    dt = np.atleast_1d(np.asarray(dt_us, dtype=float))
    return t0[:, None] + dt[:, None] * np.arange(n_points)[None, :]
