"""GPU against CPU in one process: inference of the shipped networks and training throughput.

Inference: each shipped network on held-out simulations (seeds it never saw) on the CPU
(float32, the baseline), on CUDA in float32 (the default) and on CUDA under bfloat16 autocast.
Reported: seconds per item, speed ratio against the CPU, the largest difference of the
outputs from the CPU's, and the task's quality figures (DEER: overlap, mean-distance error,
band coverage; NUS: spectral NRMSD against the truth, band coverage).

Training: steps and examples per second of ``mrml train`` for each architecture for ``--train-s``
seconds on the CPU (shipped batch size) and on CUDA (bfloat16 autocast) at the shipped batch size
and at ``--batch-scales`` multiples of it, with small pools and validation sets (the figures are
throughput, not accuracy).

Without CUDA only the CPU rows are printed. Usage::

    python benchmarks/bench_gpu.py [--n-deer 4096] [--n-nus 512] [--n-nus3d 64] [--train-s 30] \\
        [--skip-train] [--batch-scales 1 8]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import torch


def _timed(fn, repeats: int = 3):
    """Result of ``fn()`` and its best wall time of ``repeats`` runs after one warm-up."""
    out = fn()
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return out, best


def modes():
    """(label, device, mixed_precision): the CPU baseline first."""
    out = [("cpu float32", "cpu", False)]
    if torch.cuda.is_available():
        out += [("cuda float32", "cuda", False), ("cuda bfloat16", "cuda", True)]
    return out


def deer_rows(n: int, seed: int):
    from mrml import metrics
    from mrml.models import load_model
    from mrml.stages.deer import ensemble_estimate
    from mrml.train import CANONICAL_R_NM, predict_members, validation_set

    x, p_true = validation_set(n, seed)
    dr = CANONICAL_R_NM[1] - CANONICAL_R_NM[0]
    rows, ref = [], None
    for label, device, mixed in modes():
        net, card = load_model("deernet", device=device)
        members, sec = _timed(lambda: predict_members(net, x, mixed_precision=mixed))
        members = members / dr
        p, lo, hi = ensemble_estimate(members, card["calibration"])
        ref = p if ref is None else ref
        m = metrics.summary(p, lo, hi, p_true / dr, CANONICAL_R_NM)
        rows.append((f"deernet {label}", sec / n, float(np.abs(p - ref).max() / ref.max()),
                     f"overlap {m['overlap']:.4f}, r_mean error {m['mean_distance_error_nm']:.4f} nm, "
                     f"coverage {m['coverage_all']:.3f}"))
    return rows


def nus_rows(n: int, seed: int, n_points: int = 128):
    from simulators import get_simulator

    from mrml.models import load_model
    from mrml.train_nus import band_scale, coverage, predict, spectral_nrmsd, to_inputs

    inp, tgt = to_inputs(get_simulator("nus", overrides={"n_points": n_points}).simulate(
        n, np.random.default_rng([seed, 11, n_points])))
    truth = tgt[:, 0] + 1j * tgt[:, 1]
    rows, ref = [], None
    for label, device, mixed in modes():
        net, card = load_model("nusnet", device=device)
        (m, sig), sec = _timed(lambda: predict(net, inp, mixed_precision=mixed, return_sigma=True))
        fids = m[:, :, 0] + 1j * m[:, :, 1]
        mean = fids.mean(0)
        ref = mean if ref is None else ref
        cov = coverage(fids, truth, band_scale(card["calibration"], n_points), sigmas=sig)
        rows.append((f"nusnet {label}", sec / n, float(np.abs(mean - ref).max() / np.abs(ref).max()),
                     f"NRMSD {spectral_nrmsd(mean, truth).mean():.4f}, coverage {cov['coverage_significant']:.3f}"))
    return rows


def nus3d_rows(n: int, seed: int, shape=(64, 48)):
    from simulators import get_simulator

    from mrml.models import load_model
    from mrml.train_nus3d import coverage, predict, spectral_nrmsd, to_inputs

    inp, tgt = to_inputs(get_simulator("nus3d", overrides={"n1": shape[0], "n2": shape[1]}).simulate(
        n, np.random.default_rng([seed, 13, *shape])))
    truth = tgt[:, 0] + 1j * tgt[:, 1]
    lines = np.abs(truth).max(axis=(1, 2)) > 0
    rows, ref = [], None
    for label, device, mixed in modes():
        net, card = load_model("nusnet3d", device=device)
        (fids, sig), sec = _timed(lambda: predict(net, inp, mixed_precision=mixed,
                                                  batch_size=8 if device == "cpu" else 64))
        mean = fids.mean(0)
        ref = mean if ref is None else ref
        cov = coverage(fids, sig, truth, card["calibration"]["z"])
        rows.append((f"nusnet3d {label}", sec / n, float(np.abs(mean - ref).max() / np.abs(ref).max()),
                     f"NRMSD {spectral_nrmsd(mean, truth)[lines].mean():.4f}, "
                     f"coverage {cov['coverage_significant']:.3f}"))
    return rows


def train_rows(seconds: float, scales=(1,), names=("deernet", "nusnet", "nusnet3d")):
    """(label, steps/s, examples/s, ratio of examples/s to the CPU's, note) per trainer, device and batch scale.

    The CPU runs the shipped configuration; CUDA runs it with the batch ``scale`` times larger, since
    steps of these small networks cost a GPU little more when the batch grows.
    """
    from mrml.train import train_deernet
    from mrml.train_nus import train_nusnet
    from mrml.train_nus3d import train_nusnet3d

    runs = {  # name: (run(out, device, batch), default batch, examples per step per unit batch)
        "deernet": (lambda out, dev, b: train_deernet(out, steps=10**9, time_limit_s=seconds, device=dev,
                                                      progress=False, pool_size=16384, n_val=256, batch_size=b),
                    256, 16),
        "nusnet": (lambda out, dev, b: train_nusnet(out, steps=10**9, time_limit_s=seconds, device=dev,
                                                    progress=False, pool_size=3072, n_val=32, batch_size=b), 64, 1),
        "nusnet3d": (lambda out, dev, b: train_nusnet3d(out, steps=10**9, time_limit_s=seconds, device=dev,
                                                        progress=False, pool_size=64, n_val=8, batch_size=b), 16, 1),
    }
    rows = []
    for name, (run, batch, per) in runs.items():
        if name not in names:
            continue
        base = None
        plan = [("cpu", 1)] + ([("cuda", k) for k in scales] if torch.cuda.is_available() else [])
        for device, scale in plan:
            with tempfile.TemporaryDirectory() as tmp:
                tr = run(tmp, device, batch * scale)["training"]
            rate = tr["steps"] / tr["seconds_train"]
            examples = rate * batch * scale * per
            base = base or examples
            note = f"batch {batch * scale}: {tr['steps']} steps in {tr['seconds_train']} s"
            rows.append((f"train {name} {device}", rate, examples, examples / base, note))
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-deer", type=int, default=4096)
    ap.add_argument("--n-nus", type=int, default=512)
    ap.add_argument("--n-nus3d", type=int, default=64)
    ap.add_argument("--seed", type=int, default=4242)
    ap.add_argument("--train-s", type=float, default=30.0)
    ap.add_argument("--skip-train", action="store_true")
    ap.add_argument("--batch-scales", type=int, nargs="+", default=[1, 8], help="CUDA training batch multiples")
    ap.add_argument("--trainers", nargs="+", default=["deernet", "nusnet", "nusnet3d"])
    args = ap.parse_args(argv)
    from mrml.device import cpu_threads

    torch.set_num_threads(cpu_threads())
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    print(f"torch {torch.__version__}, CPU threads {torch.get_num_threads()}, GPU: {gpu}")
    print(f"{'inference':28s} {'s/item':>10s} {'vs CPU':>8s} {'max |diff|':>11s}  quality")
    for rows in (deer_rows(args.n_deer, args.seed), nus_rows(args.n_nus, args.seed),
                 nus3d_rows(args.n_nus3d, args.seed)):
        base = rows[0][1]
        for label, sec, diff, quality in rows:
            print(f"{label:28s} {sec:10.2e} {base / sec:7.1f}x {diff:11.2e}  {quality}", flush=True)
    if not args.skip_train:
        print(f"{'training':28s} {'steps/s':>10s} {'examples/s':>11s} {'vs CPU':>8s}")
        for label, rate, examples, ratio, note in train_rows(args.train_s, args.batch_scales, args.trainers):
            print(f"{label:28s} {rate:10.1f} {examples:11.0f} {ratio:7.1f}x  {note}", flush=True)


if __name__ == "__main__":
    main()
