"""Training of the 3D NUS network (:class:`mrml.nets.nusnet.UnrolledIst2D`) on ``nus3d`` simulations.

Planes of two indirect time dimensions come from the ``nus3d`` simulator in
several shapes, one pool each, partly refreshed as training goes; a step draws
about the same number of points from whichever pool is next (fewer large
planes, more small ones). The loss is the squared error of the plane's
spectrum (zero fill x2 in both dimensions) against the noise-free target, plus
the Gaussian negative log-likelihood of the detached error under the learned
per-point error scale. After training, the error scale is calibrated on planes of
seed + 1 and checked, with the NRMSD against 2D IST, on planes of seed + 2.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np
import torch

from mrml.device import autocast as _autocast, cpu_fft2, map_batches
from mrml.nets.nusnet import UnrolledIst2D
from mrml.calibration import STRONG_SD, by_fraction_bin, snr_coverage_table, snr_factor_table
from mrml.train import (_progress, check_loss, gaussian_nll, init_changed, noisier, optimiser_step, rewrite_card,
                        run_record, start_training, write_model)

#: Plane shapes (complex points n1 x n2) trained on; a 600 MHz HNCA is typically 64 x 48.
SHAPES = ((24, 16), (32, 24), (48, 32), (64, 48))
#: Points per training step (batch size x n1 x n2), so every shape costs about the same per step.
POINTS_PER_STEP = 16 * 32 * 24


def to_inputs(arrays) -> tuple[np.ndarray, np.ndarray]:
    """Network input (m, 3, n1, n2) and target (m, 2, n1, n2) from ``nus3d`` simulator arrays."""
    x = np.asarray(arrays["x"], dtype=np.float32)
    mask = np.asarray(arrays["mask"], dtype=np.float32)
    inp = np.concatenate([x.transpose(0, 3, 1, 2), mask[:, None]], axis=1)
    return inp, np.asarray(arrays["y"], dtype=np.float32).transpose(0, 3, 1, 2)


def scale_planes(x):
    """Scale factors (batch,) that bring the sampled points' largest modulus to 1."""
    return torch.sqrt(x[:, 0] ** 2 + x[:, 1] ** 2).amax(dim=(-2, -1)).clamp_min(1e-12)


def plane_spectrum(fid):
    """Unshifted spectrum (zero fill x2 in both dimensions, no window) of complex planes (..., n1, n2).

    numpy arrays are transformed on every CPU (:func:`mrml.device.cpu_fft2`), torch tensors by torch.
    """
    n1, n2 = fid.shape[-2:]
    if isinstance(fid, torch.Tensor):
        return torch.fft.fft2(fid, s=(2 * n1, 2 * n2))
    return cpu_fft2(fid, s=(2 * n1, 2 * n2))


#: Floor added to each plane's error before the logarithm of the ``log-mse`` loss (planes scaled to a
#: largest modulus of 1; the session-5 model's errors on 32 x 24 planes span about 7e-5 to 1e-2).
LOG_FLOOR = 1e-5


def loss_terms(fid, log_sigma, target, *, kind: str = "mse"):
    """Spectral squared error (per point) and Gaussian NLL of the detached error, both averaged.

    ``fid`` (K, b, 2, n1, n2), ``log_sigma`` (K, b, 2 n1, 2 n2), ``target`` (b, 2, n1, n2),
    all in the scaled units; the error is complex, sigma is the SD of each of its parts.
    ``kind="log-mse"`` averages the log of each plane's error instead (see
    :data:`mrml.train.LOSSES`).
    """
    f = plane_spectrum(torch.complex(fid[:, :, 0], fid[:, :, 1]))
    g = plane_spectrum(torch.complex(target[:, 0], target[:, 1]))
    err2 = (f - g[None]).abs() ** 2
    n_pts = err2.shape[-1] * err2.shape[-2]
    if check_loss(kind) == "log-mse":
        mse = torch.log(err2.mean(dim=(-2, -1)) / n_pts + LOG_FLOOR).mean()
    else:
        mse = err2.mean() / n_pts  # Parseval: per-point scale of the time domain
    return mse, gaussian_nll(err2.detach(), log_sigma)


def predict(model, inp, *, batch_size: int = 8, device=None,
            mixed_precision: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Member reconstructions (K, m, n1, n2) complex and error scales sigma (K, m, 2 n1, 2 n2), input scale.

    Float32, or bfloat16 autocast on CUDA if ``mixed_precision``.

    Batches of a few planes keep the working set in the CPU cache (measured 1.7x
    faster per plane than batches of 128 on 64 x 48 planes); on a CPU they run side
    by side, one per CPU (:func:`mrml.device.map_batches`).
    """
    device = device or next(model.parameters()).device
    model.eval()

    def run(i):  # in inference mode (map_batches)
        with _autocast(device, enabled=mixed_precision):
            xb = torch.as_tensor(np.asarray(inp[i:i + batch_size]), device=device)
            s = scale_planes(xb)
            xs = torch.cat([xb[:, :2] / s[:, None, None, None], xb[:, 2:]], dim=1)
            fid, log_sigma = model(xs)
            fid = fid.float() * s[None, :, None, None, None]
            return (torch.complex(fid[:, :, 0], fid[:, :, 1]).cpu().numpy(),
                    (torch.exp(log_sigma.float()) * s[None, :, None, None]).cpu().numpy())

    parts = map_batches(run, range(0, len(inp), batch_size), device=device)
    fids, sigmas = zip(*parts)
    return np.concatenate(fids, axis=1), np.concatenate(sigmas, axis=1)


def spectral_band(fids, sigmas):
    """Mean spectrum and error SD per point: the learned scale combined with the members' spread.

    One member's are its spectrum and learned scale as they are, without the averages (numpy means took
    0.44 s of a 512-column 3D reconstruction of 11.7 s, cProfile, session 15).
    """
    spec = plane_spectrum(fids)
    if len(spec) == 1:
        return spec[0], sigmas[0]
    return spec.mean(axis=0), np.sqrt(np.mean(sigmas ** 2, axis=0) + spec.var(axis=0))


def _need(fids, sigmas, truth, significant: float):
    """|error| / sd of the real and imaginary parts of the spectrum, and which points are significant."""
    mean, sd = spectral_band(fids, sigmas)
    true = plane_spectrum(truth)
    peak = np.abs(true).max(axis=(-2, -1), keepdims=True)
    need = np.concatenate([np.abs(mean.real - true.real) / np.maximum(sd, 1e-12),
                           np.abs(mean.imag - true.imag) / np.maximum(sd, 1e-12)])
    sig = np.concatenate([np.abs(true.real) > significant * peak, np.abs(true.imag) > significant * peak])
    sig &= np.concatenate([peak, peak]) > 0  # noise-only planes have no significant points
    return need, sig, sd, peak


def calibrate(fids, sigmas, truth, *, level: float = 0.95, significant: float = 0.01) -> dict:
    """Scale ``z`` of the error SD so the band covers ``level`` of the true spectrum (all and significant points)."""
    need, sig, _, _ = _need(fids, sigmas, truth, significant)
    z = max(float(np.quantile(need[sig], level, method="higher")), float(np.quantile(need, level, method="higher")))
    return {"level": level, "z": z, "significant": significant, "raw_coverage_all": float(np.mean(need <= 1.0))}


def coverage(fids, sigmas, truth, z, *, significant: float = 0.01) -> dict:
    """Share of the true spectrum inside mean +- z SD (all points, significant points) and the mean half-width.

    ``z`` is one scale, or one per plane (m,).
    """
    need, sig, sd, peak = _need(fids, sigmas, truth, significant)
    z = np.asarray(z, dtype=float)
    z = z[:, None, None] if z.ndim else z
    inside = need <= (np.concatenate([z, z]) if z.ndim else z)  # need: real parts of all planes, then imaginary
    lines = peak[:, 0, 0] > 0
    return {"coverage_all": float(inside.mean()), "coverage_significant": float(inside[sig].mean()),
            "mean_half_width": float(np.mean((z[lines] if z.ndim else z) * sd[lines] / peak[lines]))}


def spectral_nrmsd(fid, target) -> np.ndarray:
    """Per-plane normalised RMSD of the spectra of complex planes (m, n1, n2)."""
    s, s0 = plane_spectrum(fid), plane_spectrum(target)
    return np.linalg.norm(s - s0, axis=(-2, -1)) / np.maximum(np.linalg.norm(s0, axis=(-2, -1)), 1e-12)


def evaluate(model, arrays, *, ist_iter: int = 200, z=None) -> dict:
    """Network vs 2D IST on validation planes: mean spectral NRMSD, share the network wins, band coverage.

    ``z``: the band scale, one or one per plane; or a card's ``calibration`` dict, from which each plane gets
    the scale of its shape and sampling fraction (:func:`mrml.stages.nus3d.band_z`).
    """
    from mrml.stages.nus_ist import _ist_2d

    inp, tgt = to_inputs(arrays)
    fids, sigmas = predict(model, inp)
    truth = tgt[:, 0] + 1j * tgt[:, 1]
    lines = np.abs(truth).max(axis=(1, 2)) > 0  # NRMSD is relative: noise-only planes are left out of it
    err_net = spectral_nrmsd(fids.mean(axis=0), truth)[lines]
    x = inp[:, 0] + 1j * inp[:, 1]
    n1, n2 = x.shape[1:]
    rec = []
    for i in range(len(x)):
        idx = np.argwhere(inp[i, 2] > 0)
        rec.append(_ist_2d(x[i][idx[:, 0], idx[:, 1]][:, None], idx, n1, n2, ist_iter, 0.01)[..., 0])
    err_ist = spectral_nrmsd(np.asarray(rec), truth)[lines]
    out = {"n": int(len(x)), "n_with_lines": int(lines.sum()), "shape": [int(n1), int(n2)],
           "nrmsd_net": float(err_net.mean()),
           "nrmsd_ist": float(err_ist.mean()), "share_net_better": float(np.mean(err_net < err_ist))}
    if isinstance(z, dict):
        from mrml.stages.nus3d import band_z

        z = band_z(z, (n1, n2), fraction=inp[:, 2].mean(axis=(1, 2)))
    if z is not None:
        out.update(coverage(fids, sigmas, truth, z))
    return out


#: Sampling-fraction bins of the band calibration; the ``nus3d`` simulator samples 8-40 % of the pairs. With
#: one scale per shape, held-out planes sampled at 8-16 % were covered 0.86-0.90 at their significant points
#: and those at 32-40 % 0.98 (shipped ``nusnet3d``, 256 planes of 32 x 24 and of 64 x 48).
FRACTION_EDGES = (0.08, 0.16, 0.24, 0.32, 0.4)


#: Noise range (SD per point relative to the largest line) of the planes that fit the SNR factor: peak
#: signal-to-noise about 3 to 2000 in a 64 x 48 plane, so that every SNR bin is populated.
SNR_CALIBRATION_NOISE = (0.03, 3.0)


def plane_snr(mean, sd):
    """Signal-to-noise of planes as the data show it: the mean spectrum's largest modulus over the median of the
    error SD (m,); noise-only planes score about 3-5. It tracks the true peak SNR closely (held-out 64 x 48
    planes with true peak SNR 10-30: median 35, 10th-90th percentile 21-59)."""
    return np.abs(mean).max(axis=(-2, -1)) / np.maximum(np.median(sd, axis=(-2, -1)), 1e-30)


def _relative_needs(model, sims, calibration, *, seed: int, n: int):
    """Per plane: sampling fraction, SNR, |error| / calibrated half-width at all points and at strong points."""
    from mrml.stages.nus3d import band_z

    frac_all, snr_all, rel_all, rel_strong = [], [], [], []
    for shape, sim in sims.items():
        arrays = sim.simulate(n, np.random.default_rng([seed, 17, *shape]))
        inp, tgt = to_inputs(arrays)
        f, s = predict(model, inp)
        mean, sd = spectral_band(f, s)
        true = plane_spectrum(tgt[:, 0] + 1j * tgt[:, 1])
        frac = inp[:, 2].mean(axis=(1, 2))
        half = band_z(calibration, shape, fraction=frac).reshape(-1, 1, 1) * sd
        strong_level = STRONG_SD * np.asarray(arrays["params/noise_std"]) * np.sqrt(shape[0] * shape[1])
        for i in range(len(frac)):
            rel = np.concatenate([np.abs(mean[i].real - true[i].real), np.abs(mean[i].imag - true[i].imag)])
            rel /= np.maximum(np.concatenate([half[i], half[i]]), 1e-30)
            strong = np.concatenate([np.abs(true[i].real), np.abs(true[i].imag)]) > strong_level[i]
            rel_all.append(rel.ravel())
            rel_strong.append(rel[strong])
        frac_all += list(frac)
        snr_all += list(plane_snr(mean, sd))
    return np.array(frac_all), np.array(snr_all), rel_all, rel_strong


def fit_snr_factors(model, sims, calibration, *, seed: int, n: int) -> dict:
    """Band widening factors per sampling-fraction and plane-SNR bin (:func:`mrml.calibration.snr_factor_table`).

    The per-shape, per-fraction scale covers 95 % of the calibration planes' points, but those planes are mostly
    of high SNR: at the peaks of sparse, low-SNR planes, where the network misses or shrinks weak lines, its
    learned error SD falls short (held-out 64 x 48 planes at 8-20 % sampling and peak SNR 10-30: 0.73 of the
    strong points covered). Fitted on ``n`` planes per shape from ``sims`` (noisier than the prior:
    :data:`SNR_CALIBRATION_NOISE`).
    """
    table = snr_factor_table(*_relative_needs(model, sims, calibration, seed=seed, n=n), fraction_edges=FRACTION_EDGES)
    return {**table, "snr_factor_note": f"fitted on {n} planes per shape, noise {SNR_CALIBRATION_NOISE} of the "
                                        f"largest line; strong points above {STRONG_SD:g} noise SD of the full "
                                        "spectrum"}


def calibrate_and_validate(model, sims: dict, *, seed: int, n_val: int) -> tuple[dict, dict]:
    """Band scale from planes of seed ``seed + 1`` (all shapes pooled); metrics per shape on seed ``seed + 2``."""
    fids, sigmas, truths = [], [], []
    per, per_fraction = {}, {}
    for shape, sim in sims.items():
        inp, tgt = to_inputs(sim.simulate(n_val, np.random.default_rng([seed + 1, 13, *shape])))
        f, s = predict(model, inp)
        t = tgt[:, 0] + 1j * tgt[:, 1]
        key = "x".join(map(str, shape))
        per[key] = calibrate(f, s, t)["z"]
        per_fraction[key] = by_fraction_bin(inp[:, 2].mean(axis=(1, 2)), FRACTION_EDGES,
                                            lambda b, f=f, s=s, t=t: calibrate(f[:, b], s[:, b], t[b])["z"])
        fids.append(f)
        sigmas.append(s)
        truths.append(t)
    # outside the calibrated shapes: the largest per-shape need, so no shape is under-covered
    calib = {**calibrate(fids[0], sigmas[0], truths[0]), "z": max(per.values()), "z_by_shape": per,
             "z_by_shape_fraction": per_fraction, "n_calibration_planes": int(n_val)}
    calib["raw_coverage_all"] = float(np.mean([calibrate(f, s, t)["raw_coverage_all"]
                                               for f, s, t in zip(fids, sigmas, truths)]))
    noisy_sims = {shape: noisier(sim, "nus3d", SNR_CALIBRATION_NOISE) for shape, sim in sims.items()}
    calib.update(fit_snr_factors(model, noisy_sims, calib, seed=seed + 1, n=n_val))
    val = {}
    for shape, sim in sims.items():
        arrays = sim.simulate(n_val, np.random.default_rng([seed + 2, 13, *shape]))
        val["x".join(map(str, shape))] = evaluate(model, arrays, z=calib)
    calib["snr_factor_held_out"] = snr_coverage_table(
        calib, *_relative_needs(model, noisy_sims, calib, seed=seed + 2, n=n_val), unit="planes")
    return calib, val


def recalibrate(model_dir, *, n_val: int = 64) -> dict:
    """Recompute a trained model's calibration and validation metrics with its card's seeds; rewrite the card.

    The weights (and their sha256) stay as they are; the card records that this was done.
    """
    from simulators import get_simulator

    from mrml.models import load_model, model_dir as find

    d = find(model_dir)
    model, card = load_model(d, device="cpu")
    train = card["training"]
    config = dict(train["simulator_config"])
    sims = {tuple(int(v) for v in s): get_simulator("nus3d", {**config, "n1": int(s[0]), "n2": int(s[1])})
            for s in train["shapes"]}
    calib, val = calibrate_and_validate(model, sims, seed=int(train["seed"]), n_val=n_val)
    return rewrite_card(d, card, calibration=calib, metrics_validation=val,
                        note=f"recomputed after training by mrml.train_nus3d.recalibrate(n_val={n_val}) with the "
                             "card's seeds; weights unchanged")


def train_nusnet3d(out_dir, *, steps: int = 20000, lr: float = 2e-3, seed: int = 0, pool_size: int = 1024,
                   refresh: int = 32, refresh_every: int = 25, n_val: int = 64, device: str | None = None,
                   progress: bool = True, command: str | None = None, time_limit_s: float | None = None,
                   overrides=None, hparams: dict | None = None, shapes=SHAPES, ensemble: int = 1,
                   data=None, batch_size: int | None = None, init=None, loss: str = "mse") -> dict:
    """Train the 3D NUS network and write ``weights.pt``, ``card.json`` and ``loss.csv`` to ``out_dir``.

    ``pool_size`` planes are held per shape; ``refresh`` of them are replaced every
    ``refresh_every`` steps. ``batch_size`` (default: :data:`POINTS_PER_STEP` points'
    worth) applies to the 32 x 24 planes and scales inversely with the plane area.
    ``init`` (a model folder or shipped name) starts from trained weights, whose
    hyperparameters then apply, changed by ``hparams`` where given (:func:`mrml.train.init_changed`: fewer
    layers keep the first layers); the card records that model's command and sha256.
    ``loss`` is one of :data:`mrml.train.LOSSES`.
    """
    from simulators import get_simulator

    from mrml.errors import InputError

    if data:
        raise InputError("nusnet3d trains on fresh simulations (--simulate nus3d), not on a store")
    check_loss(loss)
    out, dev = start_training(out_dir, device, seed)
    rng = np.random.default_rng([seed, 13])
    overrides = dict(overrides or {})
    shapes = [tuple(int(v) for v in s) for s in shapes]
    sims = {s: get_simulator("nus3d", overrides={**overrides, "n1": s[0], "n2": s[1]}) for s in shapes}
    points = POINTS_PER_STEP if batch_size is None else int(batch_size) * 32 * 24
    t0 = time.time()
    pools = {s: [*to_inputs(sims[s].simulate(pool_size, rng)), 0] for s in shapes}
    t_pool = time.time() - t0
    start = None
    if init:
        model, start = init_changed(init, "nusnet3d", UnrolledIst2D, dev, changes=hparams or {})
    else:
        model = UnrolledIst2D(n_members=ensemble, **(hparams or {})).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=lr * 0.1)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=steps, desc="train nusnet3d", unit="step", file=sys.stderr, mininterval=1.0)
    losses, step = [], 0
    t_train = time.time()
    model.train()
    for step in range(1, steps + 1):
        if refresh and step % refresh_every == 0:
            s = shapes[(step // refresh_every) % len(shapes)]
            pool_x, pool_y, cursor = pools[s]
            a, b = to_inputs(sims[s].simulate(refresh, rng))
            idx = (cursor + np.arange(len(a))) % pool_size
            pool_x[idx], pool_y[idx] = a, b
            pools[s][2] = int((cursor + len(a)) % pool_size)
        s = shapes[step % len(shapes)]
        pool_x, pool_y, _ = pools[s]
        pick = rng.integers(0, pool_size, max(2, points // (s[0] * s[1])))
        xb = torch.as_tensor(pool_x[pick], device=dev)
        yb = torch.as_tensor(pool_y[pick], device=dev)
        scale = scale_planes(xb)[:, None, None, None]
        xb = torch.cat([xb[:, :2] / scale, xb[:, 2:]], dim=1)
        with _autocast(dev):
            fid, log_sigma = model(xb)
        mse, nll = loss_terms(fid.float(), log_sigma.float(), yb / scale, kind=loss)
        done = _progress(step, steps, time.time() - t_train, time_limit_s)
        optimiser_step(opt, mse + 1e-3 * nll, done=done, lr=lr, losses=losses, bar=bar)
        if done >= 1.0:
            break
    if bar is not None:
        bar.close()
    train_s = time.time() - t_train
    calib, val = calibrate_and_validate(model, sims, seed=seed, n_val=n_val)
    card: dict[str, Any] = {
        "name": "nusnet3d", "architecture": "nusnet3d", "hparams": dict(model.hparams),
        "task": "3D NUS: sampled plane of two indirect dimensions + mask -> full plane, learned calibrated band",
        "training": {"command": command, "data": "on-the-fly simulation", "simulator": "nus3d",
                     "simulator_version": next(iter(sims.values())).version, "init": start, "loss": loss,
                     "simulator_config": next(iter(sims.values())).config, "shapes": [list(s) for s in shapes],
                     "points_per_step": points,
                     **run_record(seed=seed, steps=step, lr=lr, pool_size=pool_size, device=dev,
                                  seconds_pool=t_pool, seconds_train=train_s, losses=losses)},
        "calibration": calib,
        "metrics_validation": val,
    }
    return write_model(out, model, card, losses)
