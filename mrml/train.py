"""Training loops: DEERNet ensembles on on-the-fly simulation or on a zarr store.

The whole ensemble trains in one batched model; every member draws its own
minibatch from a pool of examples that is partly refreshed with new
simulations as training goes (``--simulate``) or streamed chunk by chunk from
a store (``--data``). After training the band is calibrated and the metrics
measured on validation traces simulated with a different seed; weights,
``card.json`` and the sha256 go to the output folder.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mrml import calibration, metrics
from mrml.deer_data import CANONICAL_R_NM, N_INPUT, TRAINING_PRESET, DeerExampleStream, examples_from_arrays
from mrml.device import autocast as _autocast
from mrml.device import cpu_threads, pick_device
from mrml.errors import InputError
from mrml.nets.deernet import DeerNetEnsemble
from simulators.deer import VERSION as DEER_VERSION

ARCHITECTURES = ("deernet", "nusnet", "nusnet3d")
DEFAULT_HPARAMS = {"hidden": 256, "n_layers": 3}


class _Pool:
    """Examples held on the training device; members draw independent minibatches; rows are replaced as new
    data arrive.

    On a GPU the pool lives in its memory, so a step gathers its batch there instead of copying it from
    the host (at large batches the host gather and copy set the pace). Indices come from the numpy
    generator either way, so the batches are the same on every device.
    """

    def __init__(self, x, p, device):
        self.device = device
        self.x, self.p = (torch.as_tensor(np.asarray(a, dtype=np.float32), device=device) for a in (x, p))
        self.cursor = 0

    def replace(self, x, p):
        n = len(x)
        idx = torch.as_tensor((self.cursor + np.arange(n)) % len(self.x), device=self.device)
        self.x[idx] = torch.as_tensor(np.asarray(x, dtype=np.float32), device=self.device)
        self.p[idx] = torch.as_tensor(np.asarray(p, dtype=np.float32), device=self.device)
        self.cursor = int((self.cursor + n) % len(self.x))

    def draw(self, rng, n_members, batch_size):
        idx = torch.as_tensor(rng.integers(0, len(self.x), n_members * batch_size), device=self.device)
        return (a.index_select(0, idx).reshape(n_members, batch_size, -1) for a in (self.x, self.p))


def _store_batches(path, rng):
    """Yield (x, p) from a store's chunks in random order, forever."""
    from mrml import store

    info = store.open_store(path)
    if not info.complete:
        raise InputError(f"{path} is not complete ({store.status(path)['done']} chunks written); "
                         "finish it with `mrml simulate ... --resume`")
    while True:
        for i in rng.permutation(info.n_chunks):
            arrays = store.read_chunk(path, int(i))
            x, p, _ = examples_from_arrays(arrays)
            yield x, p


def _progress(step: int, steps: int, elapsed_s: float, time_limit_s: float | None) -> float:
    """Fraction of training done: by steps, or by time when a time limit is set and binds first."""
    done = step / steps
    if time_limit_s:
        done = max(done, elapsed_s / time_limit_s)
    return min(done, 1.0)


def _learning_rate(done: float, peak: float, *, warmup: float = 0.03, floor: float = 0.005) -> float:
    """Linear warm-up, then cosine decay to ``floor * peak``, as a function of the fraction done."""
    if done < warmup:
        return peak * (0.1 + 0.9 * done / warmup)
    x = (done - warmup) / (1.0 - warmup)
    return peak * (floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * min(x, 1.0))))


def _loss(pred, target, l1_weight: float = 0.0):
    """Squared error on P and on its cumulative distribution (locates peaks), summed over r.

    An optional L1 term (``2 * (1 - overlap)``) penalises mass spread thinly where P is zero.
    """
    mse = ((pred - target) ** 2).sum(-1)
    cdf = ((torch.cumsum(pred, -1) - torch.cumsum(target, -1)) ** 2).sum(-1) / target.shape[-1]
    loss = (mse + cdf).mean() * 100.0
    if l1_weight:
        loss = loss + l1_weight * (pred - target).abs().sum(-1).mean()
    return loss


def predict_members(model: DeerNetEnsemble, x, *, batch_size: int = 4096, device=None,
                    mixed_precision: bool = False) -> np.ndarray:
    """Member predictions (K, n, nr) as probabilities per grid point (float32; bfloat16 on CUDA if asked)."""
    device = device or next(model.parameters()).device
    model.eval()
    out = []
    with torch.no_grad(), _autocast(device, enabled=mixed_precision):
        for i in range(0, len(x), batch_size):
            xb = torch.as_tensor(np.asarray(x[i:i + batch_size], dtype=np.float32), device=device)
            out.append(model(xb).float().cpu().numpy())
    return np.concatenate(out, axis=1)


def validation_set(n: int, seed: int, overrides=None):
    """Simulated validation examples (x, p, raw arrays) from their own seed."""
    stream = DeerExampleStream(overrides)
    rng = np.random.default_rng([seed, 1_000_003])
    xs, ps = [], []
    while sum(len(x) for x in xs) < n:
        x, p, _ = stream.batch(min(2048, n), rng)
        xs.append(x)
        ps.append(p)
    return np.concatenate(xs)[:n], np.concatenate(ps)[:n]


def evaluate(model, x, p_true, calib: dict) -> dict:
    """Metrics of the calibrated ensemble on examples (densities on the canonical grid)."""
    dr = CANONICAL_R_NM[1] - CANONICAL_R_NM[0]
    from mrml.stages.deer import ensemble_estimate

    p, lo, hi = ensemble_estimate(predict_members(model, x) / dr, calib)
    return metrics.summary(p, lo, hi, p_true / dr, CANONICAL_R_NM)


def optimiser_step(opt, loss, *, done: float, lr: float, losses: list, bar=None) -> None:
    """Backward pass, optimiser step, learning rate for the fraction ``done``, loss log and progress bar."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    for group in opt.param_groups:
        group["lr"] = _learning_rate(done, lr)
    losses.append(float(loss.detach()))
    if bar is not None:
        bar.update(1)


def start_training(out_dir, device: str | None, seed: int):
    """Output folder (created), device (threads set to the CPU affinity on CPU) and torch seed of a run."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dev = pick_device(device)
    if dev.type == "cpu":
        torch.set_num_threads(cpu_threads())
    torch.manual_seed(seed)
    return out, dev


#: Floor of the learned error SD in the scaled units (the largest sampled point is 1). Where the error is
#: exactly zero (a noise-free empty plane reconstructed as zeros) the likelihood otherwise drives log sigma
#: down without bound until ``exp`` underflows. Far below any error the networks reach (1e-3 and up).
SIGMA_FLOOR = 1e-6


def gaussian_nll(err2, log_sigma):
    """Mean Gaussian negative log-likelihood of squared complex errors ``err2`` (detached by the caller) under
    the learned SD ``exp(log_sigma)`` of each part, with the variance floored at :data:`SIGMA_FLOOR` squared.

    Computed in log space (``log var = logaddexp(2 log sigma, 2 log floor)``), so the loss and its gradient
    stay finite for any ``log_sigma``: twice a 12-layer ``nusnet3d`` run (session 14) lost its error-scale head
    to NaN, once as log sigma ran down at zero-error points and once (with the floor but ``exp(2 log sigma)``
    taken directly) as it overflowed above 44 on a plane whose model spectrum the refiners had blown up.
    """
    log_var = torch.logaddexp(2 * log_sigma, log_sigma.new_tensor(2 * math.log(SIGMA_FLOOR)))
    return (0.5 * err2 * torch.exp(-log_var) + log_var).mean()


#: Losses of the NUS networks: ``mse``, the mean squared spectral error, which the columns or planes that
#: are hardest to reconstruct (short, sparsely sampled) dominate; ``log-mse``, the mean of its logarithm per
#: column or plane, which weighs a relative improvement the same everywhere, so well-sampled data, where
#: IST is strong, count as much as sparse data.
LOSSES = ("mse", "log-mse")


def check_loss(loss: str, allowed=LOSSES) -> str:
    """``loss`` if it is one of ``allowed`` (default :data:`LOSSES`); a one-line error otherwise."""
    if loss not in allowed:
        raise InputError(f"unknown loss {loss!r}; available: {', '.join(allowed)}")
    return loss


def init_from(init, architecture: str, device):
    """A copy of the trained model ``init`` (folder or shipped name) on ``device``, and the card's record of it.

    Fine-tuning starts from these weights and keeps their hyperparameters; the
    record (model, sha256, command, simulator version) goes into the new card,
    so a chain of runs can be retraced.
    """
    import copy

    from mrml.models import load_model

    net0, card0 = load_model(init, device="cpu")
    if card0.get("architecture") != architecture:
        raise InputError(f"--init {init}: not a {architecture} model")
    start = {"model": str(init), "sha256": card0["sha256"], "command": card0["training"]["command"],
             "simulator_version": card0["training"].get("simulator_version"), "init": card0["training"].get("init")}
    return copy.deepcopy(net0).to(device).train(), start


#: per-layer parameters (members, layers): a network with fewer members or layers takes the leading block
PER_LAYER = ("threshold_logit", "momentum")


def init_changed(init, architecture: str, build, device, *, changes: dict):
    """:func:`init_from`, rebuilt by ``build(**hparams)`` with ``changes`` to the hyperparameters of ``init``.

    The new model takes every weight of ``init`` whose name and shape it shares, and the leading block of
    the per-layer parameters (:data:`PER_LAYER`): fewer layers keep the first layers' thresholds and
    momenta, fewer members the first members'. New parts (a ``learned_sigma`` head) start fresh. Without
    ``changes`` it is :func:`init_from`; the record lists the changes and how many tensors were taken.
    """
    model, start = init_from(init, architecture, device)
    if not changes:
        return model, start
    if not isinstance(model, build):
        raise InputError(f"--init with --hparam or --ensemble needs an unrolled {architecture}")
    new = build(**{**model.hparams, **changes}).to(device)
    old, state = model.state_dict(), new.state_dict()
    taken = 0
    for key, value in state.items():
        src = old.get(key)
        if src is not None and key in PER_LAYER and src.dim() == value.dim() and \
                all(a >= b for a, b in zip(src.shape, value.shape)):
            src = src[tuple(slice(0, n) for n in value.shape)]
        if src is not None and src.shape == value.shape:
            state[key] = src.clone()
            taken += 1
    new.load_state_dict(state)
    start = {**start, "changed_hparams": dict(changes), "weights_taken": f"{taken} of {len(state)} tensors"}
    return new.train(), start


def run_record(*, seed: int, steps: int, lr: float, pool_size: int, device, seconds_pool: float,
               seconds_train: float, losses) -> dict:
    """The fields every NUS training card records about its run (seeds, steps, device, timing, loss)."""
    return {"seed": seed, "calibration_seed": seed + 1, "validation_seed": seed + 2, "steps": steps, "lr": lr,
            "pool_size": pool_size, "device": str(device), "torch": torch.__version__,
            "seconds_pool": round(seconds_pool, 1), "seconds_train": round(seconds_train, 1),
            "final_loss": float(np.mean(losses[-100:]))}


def write_model(out: Path, model, card: dict, losses, *, half: bool = False) -> dict:
    """Write ``weights.pt`` (atomically; float16 if ``half``), ``loss.csv`` and ``card.json`` with the sha256.

    ``card`` gets ``weights``, ``weights_dtype``, ``sha256`` and ``size_bytes``; returns the completed card.
    """
    weights = out / "weights.pt"
    state = {k: v.detach().to("cpu", torch.float16 if half and v.is_floating_point() else v.dtype)
             for k, v in model.state_dict().items()}
    tmp = weights.with_suffix(".pt.tmp")
    torch.save(state, tmp)
    os.replace(tmp, weights)
    np.savetxt(out / "loss.csv", np.asarray(losses), header="loss", comments="", fmt="%.6g")
    card = {**card, "weights": "weights.pt", "weights_dtype": "float16" if half else "float32",
            "sha256": hashlib.sha256(weights.read_bytes()).hexdigest(), "size_bytes": weights.stat().st_size}
    _write_card(out, card)
    return card


def _write_card(model_dir, card: dict) -> None:
    """``card.json`` in ``model_dir``, written atomically."""
    tmp = Path(model_dir) / "card.json.tmp"
    tmp.write_text(json.dumps(card, indent=2) + "\n")
    os.replace(tmp, Path(model_dir) / "card.json")


def noisier(sim, kind: str, noise_range):
    """Simulator ``kind`` configured as ``sim`` but with its ``noise_frac`` range set to ``noise_range``."""
    from simulators import get_simulator

    config = dict(sim.config)
    config["ranges"] = {**dict(config.get("ranges") or {}), "noise_frac": list(noise_range)}
    return get_simulator(kind, config)


def rewrite_card(model_dir, card: dict, *, calibration: dict, metrics_validation: dict, note: str) -> dict:
    """Replace a trained model's calibration and validation metrics in its ``card.json`` (atomically), with
    ``note`` recorded in the calibration; the weights and their sha256 stay as they are."""
    card = {**card, "calibration": {**calibration, "note": note}, "metrics_validation": metrics_validation}
    _write_card(model_dir, card)
    return card


#: Nominal levels of the extra DEER bands a card holds besides its 95 % one (``mrml deer --level``).
BAND_LEVELS = (0.8, 0.85, 0.9)


def band_levels(members, truth, *, levels=BAND_LEVELS) -> dict:
    """Band calibrations (:func:`mrml.calibration.fit_band`) at other nominal levels, keyed ``"0.8"``, ...

    ``members`` (K, n, nr) and ``truth`` (n, nr): the model's calibration traces, as for its 95 % band.
    """
    mean, sd = members.mean(0), members.std(0)
    return {f"{level:g}": calibration.fit_band(mean, sd, truth, level=level) for level in levels}


def add_band_levels(model_dir, *, levels=BAND_LEVELS, n_val: int = 4000) -> dict:
    """Add ``calibration_by_level`` to a trained deernet's card, fitted on its own calibration traces
    (``validation_set(n_val, seed + 1)``, as its 95 % band); the weights and sha256 stay as they are."""
    from mrml.models import load_model, model_dir as find

    d = find(model_dir)
    model, card = load_model(d, device="cpu")
    x, p = validation_set(n_val, int(card["training"]["seed"]) + 1)
    dr = CANONICAL_R_NM[1] - CANONICAL_R_NM[0]
    card = {**card, "calibration_by_level": band_levels(predict_members(model, x) / dr, p / dr, levels=levels),
            "calibration_by_level_note": f"added after training by mrml.train.add_band_levels(n_val={n_val}) on the "
                                         "card's calibration traces; weights unchanged"}
    _write_card(d, card)
    return card


def train_deernet(out_dir, *, data=None, ensemble: int = 16, steps: int = 20000, batch_size: int = 256,
                  lr: float = 2e-3, seed: int = 0, pool_size: int = 131072, refresh: int = 4096,
                  refresh_every: int = 50, n_val: int = 4000, hidden: int = DEFAULT_HPARAMS["hidden"],
                  n_layers: int = DEFAULT_HPARAMS["n_layers"], l1_weight: float = 1.0, device: str | None = None,
                  progress: bool = True, command: str | None = None, time_limit_s: float | None = None,
                  init=None) -> dict:
    """Train a DEERNet ensemble and write weights, calibration and model card.

    Parameters
    ----------
    out_dir : path
        Output folder (created); gets ``weights.pt``, ``card.json``, ``loss.csv``.
    data : path, optional
        A zarr store made by ``mrml simulate deer``; default is fresh simulation.
    ensemble, steps, batch_size, lr, seed : training settings
        ``batch_size`` is per member.
    pool_size, refresh, refresh_every : on-the-fly simulation settings
        Examples held in memory, and how many are replaced every ``refresh_every`` steps.
    l1_weight : float
        Weight of the L1 (overlap) term of the loss.
    time_limit_s : float, optional
        Training budget in seconds: the learning-rate schedule follows whichever of
        steps or time runs out first, so a time-limited run still anneals properly.
    init : path or str, optional
        Start from this trained deernet (folder or shipped name) instead of random
        weights; its ensemble size and hyperparameters apply and the card records it.

    Returns
    -------
    dict
        The model card.
    """
    out, dev = start_training(out_dir, device, seed)
    start = None
    if init is not None:
        model, start = init_from(init, "deernet", dev)
        ensemble = model.hparams["n_members"]
    rng = np.random.default_rng([seed, 7])
    stream = DeerExampleStream()
    store_iter = _store_batches(data, rng) if data else None

    def more(n):
        if store_iter is not None:
            return next(store_iter)
        x, p, _ = stream.batch(n, rng)
        return x, p

    t_start = time.time()
    xs, ps = [], []
    while sum(len(x) for x in xs) < pool_size:
        x, p = more(8192)
        xs.append(x)
        ps.append(p)
    pool = _Pool(np.concatenate(xs)[:pool_size], np.concatenate(ps)[:pool_size], dev)
    t_pool = time.time() - t_start

    if start is None:
        model = DeerNetEnsemble(n_in=N_INPUT, n_out=CANONICAL_R_NM.size, hidden=hidden, n_layers=n_layers,
                                n_members=ensemble).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=_learning_rate(0.0, lr))
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=steps, desc="train deernet", unit="step", file=sys.stderr, mininterval=1.0)
    losses = []
    t_train = time.time()
    step = 0
    model.train()
    for step in range(1, steps + 1):
        if refresh and step % refresh_every == 0:
            pool.replace(*more(refresh))
        xb, pb = pool.draw(rng, ensemble, batch_size)
        with _autocast(dev):
            pred = model(xb)
        loss = _loss(pred.float(), pb, l1_weight)
        done = _progress(step, steps, time.time() - t_train, time_limit_s)
        optimiser_step(opt, loss, done=done, lr=lr, losses=losses, bar=bar)
        if bar is not None and step % 50 == 0:
            bar.set_postfix(loss=f"{np.mean(losses[-50:]):.4f}")
        if done >= 1.0:
            break
    if bar is not None:
        bar.close()
    train_s = time.time() - t_train

    x_val, p_val = validation_set(n_val, seed + 1)
    dr = CANONICAL_R_NM[1] - CANONICAL_R_NM[0]
    members = predict_members(model, x_val) / dr
    calib = calibration.fit_band(members.mean(0), members.std(0), p_val / dr)
    by_level = band_levels(members, p_val / dr)
    # fresh validation traces (another seed) for the reported figures, so calibration is not scored on itself
    x_chk, p_chk = validation_set(n_val, seed + 2)
    val_metrics = evaluate(model, x_chk, p_chk, calib)

    card: dict[str, Any] = {
        "name": "deernet",
        "architecture": "deernet",
        "hparams": model.hparams,
        "task": "DEER trace -> distance distribution P(r) with calibrated 95% band",
        "input": {"n_points": N_INPUT, "canonical_window_us": 4.0,
                  "preprocessing": "mrml.stages.deer_prep.prepare (phase, zero time, V(0)=1, resample)"},
        "output": {"r_nm_canonical": [float(CANONICAL_R_NM[0]), float(CANONICAL_R_NM[-1]), int(CANONICAL_R_NM.size)],
                   "scaling": "r = r_canonical * (window_us / 4.0)**(1/3)"},
        "calibration": calib,
        "calibration_by_level": by_level,
        "training": {
            "command": command,
            "data": str(data) if data else "on-the-fly simulation",
            "simulator": "deer", "simulator_version": DEER_VERSION, "simulator_preset": TRAINING_PRESET,
            "seed": seed, "validation_seeds": [seed + 1, seed + 2], "init": start,
            "steps": step, "batch_size_per_member": batch_size, "lr": lr, "pool_size": pool_size,
            "loss": f"100 * (sum (P - P_true)^2 + sum (CDF - CDF_true)^2 / n_r) + {l1_weight} * sum |P - P_true|",
            "device": str(dev), "torch": torch.__version__,
            "seconds_pool": round(t_pool, 1), "seconds_train": round(train_s, 1),
            "final_loss": float(np.mean(losses[-200:])),
        },
        "metrics_validation": val_metrics,
    }
    return write_model(out, model, card, losses, half=True)


def train(architecture: str, out_dir, **kwargs) -> dict:
    """Train a registered architecture (see :data:`ARCHITECTURES`)."""
    if architecture not in ARCHITECTURES:
        raise InputError(f"unknown model architecture {architecture!r}; available: {', '.join(ARCHITECTURES)}")
    if architecture == "nusnet":
        from mrml.train_nus import train_nusnet

        return train_nusnet(out_dir, **kwargs)
    if architecture == "nusnet3d":
        from mrml.train_nus3d import train_nusnet3d

        return train_nusnet3d(out_dir, **kwargs)
    return train_deernet(out_dir, **kwargs)
