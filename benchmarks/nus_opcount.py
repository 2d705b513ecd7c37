"""Arithmetic of the shipped NUS networks against IST (200 iterations), by operation count, not timing.

Per column of a 2D plane (``nusnet``, ``nusnet-fast``; 256 complex points, zero-filled to 512) and per plane of a 3D
experiment (``nusnet3d``, 64 x 48 pairs, zero-filled to 128 x 96). An FFT of N complex points counts
5 N log2 N flops, a multiply-add 2; element-wise work is left out of both sides.

Usage::

    python benchmarks/nus_opcount.py
"""

from __future__ import annotations

import math

IST_ITERATIONS = 200


def conv_flops(module, positions: int) -> float:
    """Flops of every convolution in ``module`` applied at ``positions`` output points."""
    from torch import nn

    return sum(2.0 * m.weight.numel() * positions for m in module.modules() if isinstance(m, (nn.Conv1d, nn.Conv2d)))


def fft_flops(n_points: int) -> float:
    return 5.0 * n_points * math.log2(n_points)


def main():
    from mrml.models import load_model

    for name in ("nusnet", "nusnet-fast"):
        net, _ = load_model(name, device="cpu")
        n_fft = 512
        conv = conv_flops(net.refiners, n_fft) + (conv_flops(net.sigma_heads, n_fft) if net.learned_sigma else 0.0)
        ffts = net.n_members * net.threshold_logit.shape[1] * 2 * fft_flops(n_fft)
        ist = IST_ITERATIONS * 2 * fft_flops(n_fft)
        print(f"2D ({name}), per column of 256 points: network {(conv + ffts) / 1e6:.1f} MFLOP (convolutions "
              f"{conv / 1e6:.1f}, FFTs {ffts / 1e6:.1f}); IST {ist / 1e6:.1f} MFLOP; ratio {(conv + ffts) / ist:.2f}")
    net3, _ = load_model("nusnet3d", device="cpu")
    n_fft = 128 * 96
    conv = conv_flops(net3.refiners, n_fft) + conv_flops(net3.sigma_head, n_fft)
    ffts = net3.threshold_logit.shape[1] * 2 * fft_flops(n_fft)
    ist = IST_ITERATIONS * 2 * fft_flops(n_fft)
    print(f"3D, per plane of 64 x 48 pairs: network {(conv + ffts) / 1e6:.1f} MFLOP (convolutions {conv / 1e6:.1f}, "
          f"FFTs {ffts / 1e6:.1f}); IST {ist / 1e6:.1f} MFLOP; ratio {(conv + ffts) / ist:.2f}")


if __name__ == "__main__":
    main()
