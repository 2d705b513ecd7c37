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


def map_batches(fn, batches, *, device) -> list:
    """``fn`` over ``batches`` in order; on a CPU, side by side in one thread per CPU, each running torch on one
    thread.

    The NUS networks are many small operations (FFTs of a few hundred points, convolutions of 16
    channels), for which torch's parallelism within each operation is partly synchronisation: batches
    side by side on one thread each ran the 2D network 3-23 % and the 3D network 14 % faster than one
    batch after another on two threads (2 cores; outputs identical). Gradients are off (inference mode;
    grad mode is per thread). torch's thread count is restored afterwards.
    """
    import torch

    def run(batch):
        with torch.inference_mode():
            return fn(batch)

    workers = cpu_threads() if torch.device(device).type == "cpu" else 1
    if workers <= 1 or len(batches) <= 1:
        return [run(b) for b in batches]
    from concurrent.futures import ThreadPoolExecutor

    def one_thread():
        torch.set_num_threads(1)

    saved = torch.get_num_threads()
    try:
        with ThreadPoolExecutor(max_workers=min(workers, len(batches)), initializer=one_thread) as pool:
            return list(pool.map(run, batches))
    finally:
        torch.set_num_threads(saved)
