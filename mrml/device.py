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


def thread_map(fn, items, *, workers: int | None = None, initializer=None) -> list:
    """``fn`` over ``items`` in order, in ``workers`` threads (default: every CPU this process may use), each
    started with ``initializer``; in the calling thread when one is enough. For work that releases the GIL
    (numpy, scipy.fft, torch operations)."""
    items = list(items)
    workers = min(max(1, int(workers or cpu_threads())), len(items))
    if workers <= 1:
        return [fn(item) for item in items]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=workers, initializer=initializer) as pool:
        return list(pool.map(fn, items))


def map_batches(fn, batches, *, device) -> list:
    """``fn`` over ``batches`` in order; on a CPU, side by side in one thread per CPU, each running torch on one
    thread (:func:`thread_map`).

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

    saved = torch.get_num_threads()
    try:
        return thread_map(run, batches, workers=cpu_threads() if torch.device(device).type == "cpu" else 1,
                          initializer=lambda: torch.set_num_threads(1))
    finally:
        torch.set_num_threads(saved)
