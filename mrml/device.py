"""Choice of compute device: CUDA (with mixed precision) when present, CPU otherwise."""

from __future__ import annotations


def pick_device(device: str | None = None):
    """CUDA when present (or the device asked for), else CPU."""
    import torch

    if device:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def autocast(device):
    """Mixed-precision context for ``device`` (bfloat16 on CUDA; a no-op on CPU)."""
    import torch

    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)
