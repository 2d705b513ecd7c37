"""Training of the NUS reconstruction ensemble (:class:`mrml.nets.nusnet.NusNetEnsemble`).

Columns come from the ``nus`` simulator (fresh simulation into a pool that is
partly refreshed as training goes, or chunks of a ``mrml simulate nus``
store). The loss is the squared error of the full FID against the noise-free
target, with the inputs and targets of each column scaled by the largest
sampled modulus. Validation columns from other seeds compare the ensemble
mean with IST on the same columns; weights, card and sha256 go to ``out_dir``.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np
import torch
from torch import nn

from mrml.device import autocast as _autocast
from mrml.device import cpu_threads, map_batches
from mrml.errors import InputError
from mrml.nets.nusnet import NusNetEnsemble, UnrolledIst, scale_columns
from mrml.calibration import STRONG_SD, at_fraction, by_fraction_bin, snr_coverage_table, snr_factor_table
from mrml.train import LOSSES as TRAIN_LOSSES
from mrml.train import (_learning_rate, _progress, check_loss, gaussian_nll, init_changed, noisier, optimiser_step,
                        rewrite_card, run_record, start_training, write_model)

DEFAULT_HPARAMS = {"width": 32, "dilations": [1, 2, 4, 8, 16, 32, 1, 2, 4, 8, 16, 32]}
#: Network kinds: ``unrolled`` (IST unrolled with learned thresholds and spectral refiners; the default: it
#: starts from IST's quality and learns quickly on 2 CPU cores) or ``cnn`` (FID-Net-like dilated gated
#: convolutions along the time axis; in 2-CPU runs of minutes it did not get past zero filling).
KINDS = ("unrolled", "cnn")


def build(kind: str, **hparams):
    """A NUS network of ``kind`` with its hyperparameters."""
    if kind == "unrolled":
        return UnrolledIst(**hparams)
    if kind == "cnn":
        return NusNetEnsemble(**hparams)
    raise InputError(f"unknown NUS network kind {kind!r}; available: {', '.join(KINDS)}")


#: Floor added to each column's error before the logarithm (columns scaled to a largest modulus of 1;
#: the shipped session-3 model's errors span about 0.02-5 on simulated columns).
LOG_FLOOR = 1e-3


#: Losses of the 2D network: :data:`mrml.train.LOSSES` and ``log-mse-peaks``, ``log-mse`` plus
#: :data:`PEAK_WEIGHT` times :func:`peak_height_loss`.
LOSSES = (*TRAIN_LOSSES, "log-mse-peaks")
#: Weight of the peak-height term of ``log-mse-peaks``.
PEAK_WEIGHT = 1.0
#: Local maxima of the true processed spectrum above this fraction of its column maximum are the peaks
#: of :func:`peak_height_loss`.
PEAK_FLOOR = 0.05


def spectral_loss(pred, target, *, kind: str = "mse"):
    """Spectral error (FFT zero-filled x2) of predicted (K, b, 2, n) against target (b, 2, n) FIDs.

    ``kind`` is one of :data:`LOSSES`: the mean squared error, the mean log of each column's, or that
    plus the peak-height term (:func:`peak_height_loss`).
    """
    kind = check_loss(kind, LOSSES)
    err = spectral_error2(pred, target).sum(-1) / (2 * target.shape[-1])  # (K, b)
    if kind == "mse":
        return err.mean()
    loss = torch.log(err + LOG_FLOOR).mean()
    return loss + PEAK_WEIGHT * peak_height_loss(pred, target) if kind == "log-mse-peaks" else loss


def spectral_error2(pred, target):
    """Squared modulus (K, b, 2 n) of the spectral error (FFT zero-filled x2) of predicted (K, b, 2, n) against
    target (b, 2, n) FIDs."""
    n = target.shape[-1]
    f = torch.fft.fft(torch.complex(pred[..., 0, :], pred[..., 1, :]), n=2 * n)
    g = torch.fft.fft(torch.complex(target[:, 0], target[:, 1]), n=2 * n)
    return (f - g[None]).abs() ** 2


def peak_height_loss(pred, target):
    """Mean ``log(1 + r^2)`` of the relative height errors ``r`` at the true peaks of the processed spectrum.

    The spectrum is processed as users and the benchmarks do (sine bell, first point halved, zero fill x2,
    FT, real part; the network sees columns phased to absorption); peaks are the 3-point local maxima of the
    true spectrum above :data:`PEAK_FLOOR` of its column maximum. Soft thresholding shrinks peaks, and a
    squared error over the whole spectrum gives their few points little weight; this term pulls on the
    heights themselves, and ``log(1 + r^2)`` bounds the pull of weak peaks lost in the noise.
    """
    n = target.shape[-1]
    window = torch.sin(torch.pi * (0.5 + 0.5 * torch.arange(n, device=target.device) / n))
    window = window * torch.where(torch.arange(n, device=target.device) == 0, 0.5, 1.0)
    f = torch.fft.fft(torch.complex(pred[..., 0, :], pred[..., 1, :]) * window, n=2 * n).real  # (K, b, 2n)
    g = torch.fft.fft(torch.complex(target[:, 0], target[:, 1]) * window, n=2 * n).real  # (b, 2n)
    local = g == nn.functional.max_pool1d(g[:, None], 3, stride=1, padding=1)[:, 0]
    peaks = local & (g > PEAK_FLOOR * g.amax(dim=-1, keepdim=True)) & (g > 0)
    if not bool(peaks.any()):
        return pred.sum() * 0.0
    r = (f[:, peaks] - g[peaks][None]) / g[peaks][None]
    return torch.log1p(r.square()).mean()


#: Weight of the error-scale head's likelihood in the training loss. The head's only gradient comes from it
#: (the error is detached), and Adam normalises each parameter's steps, so the weight mainly keeps the logged
#: loss readable as the reconstruction's (as for nusnet3d).
SIGMA_WEIGHT = 1e-3


def sigma_nll(pred, log_sigma, target):
    """Gaussian negative log-likelihood of the detached spectral error under the learned error scale.

    ``pred`` (K, b, 2, n), ``log_sigma`` (K, b, 2 n), ``target`` (b, 2, n); sigma is the SD of each part of
    the complex error of the spectrum (FFT zero-filled x2), in the scaled units.
    """
    return gaussian_nll(spectral_error2(pred.detach(), target), log_sigma)


def to_inputs(arrays) -> tuple[np.ndarray, np.ndarray]:
    """Network input (m, 3, n) and target (m, 2, n) from ``nus`` simulator or store arrays."""
    x = np.asarray(arrays["x"], dtype=np.float32)
    mask = np.asarray(arrays["mask"], dtype=np.float32)
    inp = np.concatenate([x.transpose(0, 2, 1), mask[:, None, :]], axis=1)
    return inp, np.asarray(arrays["y"], dtype=np.float32).transpose(0, 2, 1)


#: Time points per inference batch on a CPU. Batches of about a hundred columns keep the activations
#: (members x width x points) in cache. On the 256 x 704 real HSQC plane (2 cores, medians of 5 interleaved
#: runs) batches of 128 columns took 1.18 s, 64 took 1.60 s, 256 took 2.06 s and 2048 about 2.2 s; IST took 2.02 s.
CPU_POINTS_PER_BATCH = 32768


def predict(model, inp, *, batch_size: int | None = None, device=None, mixed_precision: bool = False,
            return_sigma: bool = False):
    """Member predictions (K, m, 2, n) in the input's scale (float32; bfloat16 on CUDA if ``mixed_precision``).

    ``batch_size`` (columns) defaults to :data:`CPU_POINTS_PER_BATCH` points on a CPU, 64 times that on a GPU.
    On a CPU there are at least as many batches as CPUs, run side by side (:func:`mrml.device.map_batches`).
    With ``return_sigma``, also the learned error scales (K, m, 2 n) of a network with ``learned_sigma``
    (SD of each part of the complex spectrum's error, zero fill x2, unshifted), or None for an ensemble.
    """
    device = device or next(model.parameters()).device
    cpu = torch.device(device).type == "cpu"
    if batch_size is None:
        batch_size = max(1, CPU_POINTS_PER_BATCH * (1 if cpu else 64) // inp.shape[-1])
        if cpu:
            batch_size = min(batch_size, max(1, -(-len(inp) // cpu_threads())))
    model.eval()

    def run(i):  # in inference mode (map_batches)
        with _autocast(device, enabled=mixed_precision):
            xb = torch.as_tensor(np.asarray(inp[i:i + batch_size]), device=device)
            s = scale_columns(xb)
            xs = torch.cat([xb[:, :2] / s[:, None, None], xb[:, 2:]], dim=1)
            out = model(xs)
            fid, log_sigma = out if isinstance(out, tuple) else (out, None)
            fid = (fid.float() * s[None, :, None, None]).cpu().numpy()
            return fid, None if log_sigma is None else (torch.exp(log_sigma.float()) * s[None, :, None]).cpu().numpy()

    fids, sigmas = zip(*map_batches(run, range(0, len(inp), batch_size), device=device))
    fids = np.concatenate(fids, axis=1)
    if not return_sigma:
        return fids
    return fids, None if sigmas[0] is None else np.concatenate(sigmas, axis=1)


def spectral_nrmsd(fid, target) -> np.ndarray:
    """Per-column normalised RMSD of the spectra (FFT zero-filled x2) of complex FIDs (m, n)."""
    n = fid.shape[-1]
    s, s0 = np.fft.fft(fid, 2 * n, axis=-1), np.fft.fft(target, 2 * n, axis=-1)
    return np.linalg.norm(s - s0, axis=-1) / np.maximum(np.linalg.norm(s0, axis=-1), 1e-12)


def _spectra(member_fids, truth, sigmas=None):
    """Real spectra (no window, zero fill x2, FT) of the ensemble mean and truth, and the raw SD.

    ``member_fids`` complex (K, m, n), ``truth`` complex (m, n); results are (2n, m). The raw SD is the
    members' spread, combined with the learned error scales ``sigmas`` (K, m, 2 n) where given
    (:func:`mrml.stages.nus_net.spectral_sd`).
    """
    from mrml.stages.nus import indirect_spectrum
    from mrml.stages.nus_net import spectral_sd

    f = np.moveaxis(np.asarray(member_fids), -1, 1)  # (K, n, m)
    spec = indirect_spectrum(np.stack([f.mean(axis=0), np.asarray(truth).T]), window=False, shift=False, axis=1)
    sig = None if sigmas is None else np.moveaxis(np.asarray(sigmas), -1, 1)
    return spec[0], spectral_sd(f, sigmas=sig), spec[1]


def calibrate(member_fids, truth, *, level: float = 0.95, significant: float = 0.01, sigmas=None) -> dict:
    """Scale ``z`` of the ensemble SD so that the band covers ``level`` of the true real spectrum.

    ``z`` is the larger of the quantiles needed over all points and over points
    where the true spectrum exceeds ``significant`` of its column maximum.
    """
    mean, sd, true = _spectra(member_fids, truth, sigmas)
    need = np.abs(mean - true) / np.maximum(sd, 1e-12)
    sig = np.abs(true) > significant * np.abs(true).max(axis=0, keepdims=True)
    z = max(float(np.quantile(need[sig], level, method="higher")), float(np.quantile(need, level, method="higher")))
    return {"level": level, "z": z, "significant": significant, "raw_coverage_all": float(np.mean(need <= 1.0))}


def coverage(member_fids, truth, z, *, significant: float = 0.01, sigmas=None) -> dict:
    """Share of the true real spectrum inside mean +- z SD, over all points and where it is significant.

    ``z`` is one scale, or one per column (m,).
    """
    mean, sd, true = _spectra(member_fids, truth, sigmas)
    inside = np.abs(mean - true) <= z * sd
    sig = np.abs(true) > significant * np.abs(true).max(axis=0, keepdims=True)
    return {"coverage_all": float(inside.mean()), "coverage_significant": float(inside[sig].mean()),
            "mean_half_width": float(np.mean(z * sd) / np.mean(np.abs(true).max(axis=0)))}


def evaluate(model, arrays, *, ist_iter: int = 200, z=None) -> dict:
    """Ensemble mean vs IST on validation columns: mean spectral NRMSD, share the network wins, band coverage.

    ``z``: the band scale, one or one per column; or a card's ``calibration`` dict, from which each column
    gets the scale of its length and sampling fraction (:func:`band_scale`).
    """
    from mrml.stages.nus_ist import ist

    inp, tgt = to_inputs(arrays)
    members, sigmas = predict(model, inp, return_sigma=True)
    member_fids = members[:, :, 0] + 1j * members[:, :, 1]
    truth = tgt[:, 0] + 1j * tgt[:, 1]
    err_net = spectral_nrmsd(member_fids.mean(0), truth)
    mask = inp[:, 2] > 0
    x = inp[:, 0] + 1j * inp[:, 1]
    err_ist = np.array([spectral_nrmsd(ist(x[i, mask[i]], np.flatnonzero(mask[i]), x.shape[1], n_iter=ist_iter)[None],
                                       truth[i][None])[0] for i in range(len(x))])
    out = {"n": int(len(x)), "n_points": int(x.shape[1]), "nrmsd_net": float(err_net.mean()),
           "nrmsd_ist": float(err_ist.mean()), "share_net_better": float(np.mean(err_net < err_ist))}
    if isinstance(z, dict):
        z = band_scale(z, x.shape[1], fraction=mask.mean(axis=1))
    if z is not None:
        out.update(coverage(member_fids, truth, z, sigmas=sigmas))
    return out


#: Sampling-fraction bins of the band calibration; the ``nus`` simulator samples 10-40 % of the points. The
#: ensemble's spread understates the error of sparse columns more than that of dense ones: with one scale per
#: record length, held-out columns sampled at 10-17.5 % were covered 89-94 % at their significant points and
#: those at 25-40 % 95-98 % (shipped ``nusnet``, 1024 columns per length).
FRACTION_EDGES = (0.1, 0.175, 0.25, 0.325, 0.4)


#: Noise range (SD relative to the largest line) of the columns that fit the SNR factor: the prior's 0.001-0.2
#: reaches down to a peak SNR of about 20; measured columns go lower.
SNR_CALIBRATION_NOISE = (0.001, 3.0)


def column_snr(spec) -> np.ndarray:
    """Signal-to-noise of columns as the data show it: the largest modulus of the real spectrum (2n, m) over its
    robust noise SD (1.4826 x the median absolute deviation), one value per column (m,)."""
    spec = np.asarray(spec)
    mad = np.median(np.abs(spec - np.median(spec, axis=0)), axis=0)
    return np.abs(spec).max(axis=0) / np.maximum(1.4826 * mad, 1e-30)


def _relative_needs(model, sims, calibration, *, seed: int, n: int):
    """Per column: sampling fraction, SNR, |error| / calibrated half-width at all points and at strong points."""
    frac_all, snr_all, rel_all, rel_strong = [], [], [], []
    for length, sim in sims.items():
        arrays = sim.simulate(n, np.random.default_rng([seed, 19, length]))
        inp, tgt = to_inputs(arrays)
        m, sigmas = predict(model, inp, return_sigma=True)
        mean, sd, true = _spectra(m[:, :, 0] + 1j * m[:, :, 1], tgt[:, 0] + 1j * tgt[:, 1], sigmas)  # (2n, m)
        frac = inp[:, 2].mean(axis=1)
        rel = np.abs(mean - true) / np.maximum(band_scale(calibration, int(length), fraction=frac) * sd, 1e-30)
        strong = np.abs(true) > STRONG_SD * np.asarray(arrays["params/noise_std"]) * np.sqrt(int(length))
        frac_all += list(frac)
        snr_all += list(column_snr(mean))
        rel_all += list(rel.T)
        rel_strong += [r[s] for r, s in zip(rel.T, strong.T)]
    return np.array(frac_all), np.array(snr_all), rel_all, rel_strong


def fit_snr_factors(model, sims, calibration, *, seed: int, n: int) -> dict:
    """Band widening factors per sampling-fraction and column-SNR bin (:func:`mrml.calibration.snr_factor_table`).

    The scale per length and fraction covers 95 % of the calibration columns' points, but those columns have a
    peak SNR of about 20 or more, and at the peaks of sparse, noisy columns the ensemble spread falls short
    (held-out 128-point columns sampled at 10-20 % with true peak SNR 10-30: 0.77 of the strong points covered).
    Fitted on ``n`` columns per length from ``sims`` (noisier than the prior: :data:`SNR_CALIBRATION_NOISE`).
    """
    frac, snr, rel_all, rel_strong = _relative_needs(model, sims, calibration, seed=seed, n=n)
    table = snr_factor_table(frac, snr, rel_all, rel_strong, fraction_edges=FRACTION_EDGES)
    return {**table, "snr_factor_note": f"fitted on {n} columns per length, noise {SNR_CALIBRATION_NOISE} of the "
                                        f"largest line; strong points above {STRONG_SD:g} noise SD of the full "
                                        "spectrum"}


def calibrate_and_validate(model, sims: dict, *, seed: int, n_val: int) -> tuple[dict, dict]:
    """Band scale per record length on columns of seed ``seed + 1``; metrics on columns of seed ``seed + 2``.

    ``sims`` maps record lengths (complex points) to ``nus`` simulators.
    Returns the card's ``calibration`` (``z_by_points``, and ``z``: the largest,
    for lengths outside the calibrated ones) and ``metrics_validation``.
    """
    per, per_fraction = {}, {}
    for length, sim in sims.items():
        inp, tgt = to_inputs(sim.simulate(n_val, np.random.default_rng([seed + 1, 11, length])))
        m, sigmas = predict(model, inp, return_sigma=True)
        fids, truth = m[:, :, 0] + 1j * m[:, :, 1], tgt[:, 0] + 1j * tgt[:, 1]
        per[int(length)] = calibrate(fids, truth, sigmas=sigmas)
        per_fraction[str(int(length))] = by_fraction_bin(
            inp[:, 2].mean(axis=1), FRACTION_EDGES,
            lambda b: calibrate(fids[:, b], truth[b], sigmas=None if sigmas is None else sigmas[:, b])["z"])
    first = next(iter(per.values()))
    calib = {"level": first["level"], "significant": first["significant"],
             "z_by_points": {str(k): c["z"] for k, c in per.items()}, "z": max(c["z"] for c in per.values()),
             "z_by_points_fraction": per_fraction, "n_calibration_columns": int(n_val),
             "raw_coverage_all": {str(k): c["raw_coverage_all"] for k, c in per.items()}}
    noisy_sims = {length: noisier(sim, "nus", SNR_CALIBRATION_NOISE) for length, sim in sims.items()}
    calib.update(fit_snr_factors(model, noisy_sims, calib, seed=seed + 1, n=n_val))
    calib["snr_factor_held_out"] = snr_coverage_table(
        calib, *_relative_needs(model, noisy_sims, calib, seed=seed + 2, n=n_val), unit="columns")
    val = {f"points_{length}": evaluate(model, sim.simulate(n_val, np.random.default_rng([seed + 2, 11, length])),
                                        z=calib)
           for length, sim in sims.items()}
    return calib, val


def band_scale(calib: dict, n_points: int, *, fraction=None):
    """Band scale ``z`` for a record of ``n_points`` complex points sampled at ``fraction`` (one or an array).

    With the card's ``z_by_points_fraction`` and a ``fraction``, each calibrated length's scale is interpolated
    linearly in the fraction between bin centres (the nearest bin outside them), then in log2(n) between the
    lengths; without them, the scale of the length alone (``z_by_points``; the nearest calibrated length outside
    the calibrated range). Cards without either give their single ``z``.
    """
    table = calib.get("z_by_points_fraction")
    if table and fraction is not None:
        pts = sorted(int(k) for k in table)
        per_length = [at_fraction(table[str(k)], fraction) for k in pts]
        x = np.log2(n_points)
        if x <= np.log2(pts[0]) or len(pts) == 1:
            out = per_length[0]
        elif x >= np.log2(pts[-1]):
            out = per_length[-1]
        else:
            j = int(np.searchsorted(np.log2(pts), x)) - 1
            w = (x - np.log2(pts[j])) / (np.log2(pts[j + 1]) - np.log2(pts[j]))
            out = (1 - w) * per_length[j] + w * per_length[j + 1]
        return float(out) if np.ndim(out) == 0 else out
    by = calib.get("z_by_points")
    if not by:
        return float(calib["z"])
    pts = sorted(int(k) for k in by)
    return float(np.interp(np.log2(n_points), np.log2(pts), [by[str(k)] for k in pts]))


def init_model(init, device, *, hparams: dict | None = None, n_members: int | None = None):
    """A model to fine-tune from the trained ``init`` and the card's record (:func:`mrml.train.init_changed`).

    With ``hparams`` or ``n_members`` the model is built with ``init``'s hyperparameters so changed, and
    takes every weight of ``init`` whose name and shape it shares, the first members' thresholds and
    refiners included; new parts (e.g. a ``learned_sigma`` head) start fresh. The record lists the changes.
    """
    changes = {**(hparams or {}), **({"n_members": int(n_members)} if n_members is not None else {})}
    return init_changed(init, "nusnet", UnrolledIst, device, changes=changes)


def train_nusnet(out_dir, *, data=None, ensemble: int | None = None, steps: int = 20000, batch_size: int = 64,
                 lr: float = 2e-3, seed: int = 0, pool_size: int = 16384, refresh: int = 1024,
                 refresh_every: int = 50, n_val: int = 256, device: str | None = None, progress: bool = True,
                 command: str | None = None, time_limit_s: float | None = None, overrides=None,
                 kind: str = "unrolled", hparams: dict | None = None, lengths=(64, 128, 256), init=None,
                 loss: str = "mse") -> dict:
    """Train a NUS ensemble and write ``weights.pt``, ``card.json`` and ``loss.csv`` to ``out_dir``.

    With on-the-fly simulation the columns come in several record ``lengths``
    (complex points), one pool each, so one network serves any indirect size;
    steps cycle through the pools. After training, the band scale ``z`` is fitted
    on simulated columns of one seed and checked, with the NRMSD against IST, on
    columns of another. ``init`` (a model folder or shipped name) starts from trained
    weights, whose hyperparameters then apply, changed by ``hparams`` and ``ensemble`` where given
    (:func:`init_model`); ``loss`` is one of :data:`mrml.train.LOSSES`. A network with ``learned_sigma``
    also learns its error scale (:func:`sigma_nll`), and its band is calibrated on it.
    """
    from simulators import get_simulator

    check_loss(loss, LOSSES)
    out, dev = start_training(out_dir, device, seed)
    rng = np.random.default_rng([seed, 11])
    overrides = dict(overrides or {})
    if data:
        from mrml import store

        info = store.open_store(data)
        if not info.complete or info.simulator != "nus":
            raise InputError(f"{data} is not a complete `mrml simulate nus` store")
        sims = {int(info.config["n_points"]): get_simulator("nus", info.config)}

        def more(_length, _n):
            return to_inputs(store.read_chunk(data, int(rng.integers(info.n_chunks))))
    else:
        sims = {int(n): get_simulator("nus", overrides={**overrides, "n_points": int(n)}) for n in lengths}

        def more(length, n):
            return to_inputs(sims[length].simulate(n, rng))

    t0 = time.time()
    pools = {}
    per_pool = pool_size // len(sims)
    for length in sims:
        xs, ys = [], []
        while sum(len(a) for a in xs) < per_pool:
            a, b = more(length, 4096)
            xs.append(a)
            ys.append(b)
        pools[length] = [np.concatenate(xs)[:per_pool], np.concatenate(ys)[:per_pool], 0]
    t_pool = time.time() - t0
    hp = dict(DEFAULT_HPARAMS if kind == "cnn" else {}) if hparams is None else dict(hparams)
    start = None
    if init:
        model, start = init_model(init, dev, hparams=hparams, n_members=ensemble)
    else:
        model = build(kind, n_members=ensemble or 4, **hp).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=_learning_rate(0.0, lr))
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=steps, desc="train nusnet", unit="step", file=sys.stderr, mininterval=1.0)
    losses, step = [], 0
    order = list(pools)
    t_train = time.time()
    model.train()
    for step in range(1, steps + 1):
        if refresh and step % refresh_every == 0:
            length = order[(step // refresh_every) % len(order)]
            pool_x, pool_y, cursor = pools[length]
            a, b = more(length, refresh)
            idx = (cursor + np.arange(len(a))) % per_pool
            pool_x[idx], pool_y[idx] = a, b
            pools[length][2] = int((cursor + len(a)) % per_pool)
        pool_x, pool_y, _ = pools[order[step % len(order)]]
        pick = rng.integers(0, per_pool, batch_size)
        xb = torch.as_tensor(pool_x[pick], device=dev)
        yb = torch.as_tensor(pool_y[pick], device=dev)
        s = scale_columns(xb)[:, None, None]
        xb = torch.cat([xb[:, :2] / s, xb[:, 2:]], dim=1)
        with _autocast(dev):
            result = model(xb)
        pred, log_sigma = result if isinstance(result, tuple) else (result, None)
        loss_value = spectral_loss(pred.float(), yb / s, kind=loss)
        if log_sigma is not None:
            loss_value = loss_value + SIGMA_WEIGHT * sigma_nll(pred.float(), log_sigma.float(), yb / s)
        done = _progress(step, steps, time.time() - t_train, time_limit_s)
        optimiser_step(opt, loss_value, done=done, lr=lr, losses=losses, bar=bar)
        if done >= 1.0:
            break
    if bar is not None:
        bar.close()
    train_s = time.time() - t_train
    calib, val = calibrate_and_validate(model, sims, seed=seed, n_val=n_val)
    card: dict[str, Any] = {
        "name": "nusnet", "architecture": "nusnet",
        "hparams": {"kind": "unrolled" if isinstance(model, UnrolledIst) else "cnn", **model.hparams},
        "task": "NUS: sampled indirect FID + mask -> full FID ("
                + ("learned calibrated spectral band" if getattr(model, "learned_sigma", False)
                   else "ensemble, calibrated spectral band") + ")",
        "training": {"command": command, "data": str(data) if data else "on-the-fly simulation",
                     "simulator": "nus", "simulator_version": next(iter(sims.values())).version,
                     "simulator_config": next(iter(sims.values())).config, "init": start, "loss": loss,
                     "record_lengths": list(sims), "batch_size": batch_size,
                     **run_record(seed=seed, steps=step, lr=lr, pool_size=pool_size, device=dev,
                                  seconds_pool=t_pool, seconds_train=train_s, losses=losses)},
        "calibration": calib,
        "metrics_validation": val,
    }
    return write_model(out, model, card, losses)


def recalibrate(model_dir, *, n_val: int = 256) -> dict:
    """Recompute a trained model's calibration and validation metrics with its card's seeds; rewrite the card.

    For weights trained before :func:`calibrate_and_validate` changed: the weights
    (and their sha256) stay as they are; the card records that this was done.
    """
    from mrml.models import load_model, model_dir as find
    from simulators import get_simulator

    d = find(model_dir)
    model, card = load_model(d, device="cpu")
    train = card["training"]
    config = dict(train["simulator_config"])
    sims = {int(n): get_simulator("nus", {**config, "n_points": int(n)}) for n in train["record_lengths"]}
    calib, val = calibrate_and_validate(model, sims, seed=int(train["seed"]), n_val=n_val)
    return rewrite_card(d, card, calibration=calib, metrics_validation=val,
                        note=f"recomputed after training by mrml.train_nus.recalibrate(n_val={n_val}) with the "
                             "card's seeds; weights unchanged")
