"""Choice of compute device: CUDA (with mixed precision) when present, CPU otherwise."""

from __future__ import annotations


def pick_device(device: str | None = None):
    """CUDA when present (or the device asked for), else CPU."""
    import torch

    if device:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def autocast(device, *, enabled: bool = True):
    """Mixed-precision context for ``device``: bfloat16 on CUDA when ``enabled``, a no-op otherwise.

    Training uses it; inference runs in float32 unless asked (the band calibrations
    were fitted on float32 outputs; ``benchmarks/bench_gpu.py`` measures the difference).
    """
    import torch

    device = torch.device(device)
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


def cpu_threads() -> int:
    """CPUs this process may run on (its affinity mask, e.g. under ``taskset`` or a batch scheduler)."""
    import os

    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def cpu_fft2(x, *, s, axes=(-2, -1)):
    """2D FFT of a numpy array on every CPU this process may use (scipy's; numpy's runs on one thread).

    512 planes of 64 x 48 complex64 points zero-filled to 128 x 96: 120 ms in numpy, 35 ms here
    with 2 workers (measured).
    """
    import scipy.fft

    return scipy.fft.fft2(x, s=s, axes=axes, workers=cpu_threads())
