"""The NUS network runs under bfloat16 autocast (as on CUDA, emulated here on the CPU)."""

import torch

from mrml.nets.nusnet import UnrolledIst


def test_unrolled_ist_runs_under_bfloat16_autocast():
    torch.manual_seed(0)
    net = UnrolledIst(n_iter=8, width=8, n_members=2)
    for member in net.refiners:
        for refiner in member:
            torch.nn.init.normal_(refiner[-1].weight, std=0.01)  # active refiners (they start at zero)
    x = torch.randn(4, 3, 32)
    x[:, 2] = (torch.rand(4, 32) < 0.3).float()
    with torch.no_grad():
        plain = net(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            mixed = net(x)
    assert mixed.dtype == torch.float32 and torch.isfinite(mixed).all()
    assert torch.allclose(mixed, plain, atol=0.05 * float(plain.abs().max()))
