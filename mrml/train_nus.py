"""Training of the NUS reconstruction ensemble (:class:`mrml.nets.nusnet.NusNetEnsemble`).

Columns come from the ``nus`` simulator (fresh simulation into a pool that is
partly refreshed as training goes, or chunks of a ``mrml simulate nus``
store). The loss is the squared error of the full FID against the noise-free
target, with the inputs and targets of each column scaled by the largest
sampled modulus. Validation columns from other seeds compare the ensemble
mean with IST on the same columns; weights, card and sha256 go to ``out_dir``.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mrml.device import autocast as _autocast
from mrml.device import pick_device
from mrml.errors import InputError
from mrml.nets.nusnet import NusNetEnsemble, UnrolledIst, scale_columns
from mrml.train import _learning_rate, _progress, optimiser_step, write_model

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


def spectral_loss(pred, target):
    """Mean squared error of the spectra (FFT zero-filled x2) of predicted (K, b, 2, n) and target (b, 2, n) FIDs."""
    n = target.shape[-1]
    f = torch.fft.fft(torch.complex(pred[..., 0, :], pred[..., 1, :]), n=2 * n)
    g = torch.fft.fft(torch.complex(target[:, 0], target[:, 1]), n=2 * n)
    return ((f - g[None]).abs() ** 2).sum(-1).mean() / (2 * n)


def to_inputs(arrays) -> tuple[np.ndarray, np.ndarray]:
    """Network input (m, 3, n) and target (m, 2, n) from ``nus`` simulator or store arrays."""
    x = np.asarray(arrays["x"], dtype=np.float32)
    mask = np.asarray(arrays["mask"], dtype=np.float32)
    inp = np.concatenate([x.transpose(0, 2, 1), mask[:, None, :]], axis=1)
    return inp, np.asarray(arrays["y"], dtype=np.float32).transpose(0, 2, 1)


def predict(model, inp, *, batch_size: int = 2048, device=None) -> np.ndarray:
    """Member predictions (K, m, 2, n) in the input's scale."""
    device = device or next(model.parameters()).device
    model.eval()
    out = []
    with torch.no_grad(), _autocast(device):
        for i in range(0, len(inp), batch_size):
            xb = torch.as_tensor(np.asarray(inp[i:i + batch_size]), device=device)
            s = scale_columns(xb)
            xs = torch.cat([xb[:, :2] / s[:, None, None], xb[:, 2:]], dim=1)
            out.append((model(xs).float() * s[None, :, None, None]).cpu().numpy())
    return np.concatenate(out, axis=1)


def spectral_nrmsd(fid, target) -> np.ndarray:
    """Per-column normalised RMSD of the spectra (FFT zero-filled x2) of complex FIDs (m, n)."""
    n = fid.shape[-1]
    s, s0 = np.fft.fft(fid, 2 * n, axis=-1), np.fft.fft(target, 2 * n, axis=-1)
    return np.linalg.norm(s - s0, axis=-1) / np.maximum(np.linalg.norm(s0, axis=-1), 1e-12)


def evaluate(model, arrays, *, ist_iter: int = 200) -> dict:
    """Ensemble mean vs IST on validation columns: mean spectral NRMSD, and the share the network wins."""
    from mrml.stages.nus_ist import ist

    inp, tgt = to_inputs(arrays)
    members = predict(model, inp)
    mean = members.mean(0)
    fid = mean[:, 0] + 1j * mean[:, 1]
    truth = tgt[:, 0] + 1j * tgt[:, 1]
    err_net = spectral_nrmsd(fid, truth)
    mask = inp[:, 2] > 0
    x = inp[:, 0] + 1j * inp[:, 1]
    err_ist = np.array([spectral_nrmsd(ist(x[i, mask[i]], np.flatnonzero(mask[i]), x.shape[1], n_iter=ist_iter)[None],
                                       truth[i][None])[0] for i in range(len(x))])
    return {"n": int(len(x)), "nrmsd_net": float(err_net.mean()), "nrmsd_ist": float(err_ist.mean()),
            "share_net_better": float(np.mean(err_net < err_ist))}


def train_nusnet(out_dir, *, data=None, ensemble: int = 4, steps: int = 20000, batch_size: int = 64,
                 lr: float = 2e-3, seed: int = 0, pool_size: int = 16384, refresh: int = 1024,
                 refresh_every: int = 50, n_val: int = 256, device: str | None = None, progress: bool = True,
                 command: str | None = None, time_limit_s: float | None = None, overrides=None,
                 kind: str = "unrolled", hparams: dict | None = None) -> dict:
    """Train a NUS ensemble and write ``weights.pt``, ``card.json`` and ``loss.csv`` to ``out_dir``."""
    from simulators import get_simulator

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dev = pick_device(device)
    if dev.type == "cpu":
        torch.set_num_threads(max(1, os.cpu_count() or 1))
    torch.manual_seed(seed)
    rng = np.random.default_rng([seed, 11])
    sim = get_simulator("nus", overrides=overrides or {})
    if data:
        from mrml import store

        info = store.open_store(data)
        if not info.complete or info.simulator != "nus":
            raise InputError(f"{data} is not a complete `mrml simulate nus` store")

        def more(_n):
            return to_inputs(store.read_chunk(data, int(rng.integers(info.n_chunks))))
    else:
        def more(n):
            return to_inputs(sim.simulate(n, rng))

    t0 = time.time()
    xs, ys = [], []
    while sum(len(a) for a in xs) < pool_size:
        a, b = more(4096)
        xs.append(a)
        ys.append(b)
    pool_x, pool_y = np.concatenate(xs)[:pool_size], np.concatenate(ys)[:pool_size]
    t_pool = time.time() - t0
    hp = dict(DEFAULT_HPARAMS if kind == "cnn" else {}) if hparams is None else dict(hparams)
    model = build(kind, n_members=ensemble, **hp).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=_learning_rate(0.0, lr))
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=steps, desc="train nusnet", unit="step", file=sys.stderr, mininterval=1.0)
    losses, cursor, step = [], 0, 0
    t_train = time.time()
    model.train()
    for step in range(1, steps + 1):
        if refresh and step % refresh_every == 0:
            a, b = more(refresh)
            idx = (cursor + np.arange(len(a))) % pool_size
            pool_x[idx], pool_y[idx] = a, b
            cursor = int((cursor + len(a)) % pool_size)
        pick = rng.integers(0, pool_size, batch_size)
        xb = torch.as_tensor(pool_x[pick], device=dev)
        yb = torch.as_tensor(pool_y[pick], device=dev)
        s = scale_columns(xb)[:, None, None]
        xb = torch.cat([xb[:, :2] / s, xb[:, 2:]], dim=1)
        with _autocast(dev):
            pred = model(xb)
        loss = spectral_loss(pred.float(), yb / s)
        done = _progress(step, steps, time.time() - t_train, time_limit_s)
        optimiser_step(opt, loss, done=done, lr=lr, losses=losses, bar=bar)
        if done >= 1.0:
            break
    if bar is not None:
        bar.close()
    train_s = time.time() - t_train
    val = evaluate(model, sim.simulate(n_val, np.random.default_rng([seed + 2, 11])))
    card: dict[str, Any] = {
        "name": "nusnet", "architecture": "nusnet", "hparams": {"kind": kind, **model.hparams},
        "task": "NUS: sampled indirect FID + mask -> full FID (ensemble)",
        "training": {"command": command, "data": str(data) if data else "on-the-fly simulation",
                     "simulator": "nus", "simulator_config": sim.config, "seed": seed, "validation_seed": seed + 2,
                     "steps": step, "batch_size": batch_size, "lr": lr, "pool_size": pool_size,
                     "device": str(dev), "torch": torch.__version__, "seconds_pool": round(t_pool, 1),
                     "seconds_train": round(train_s, 1), "final_loss": float(np.mean(losses[-100:]))},
        "metrics_validation": val,
    }
    return write_model(out, model, card, losses)
