"""UnrolledIst2D: an untrained network is FISTA-accelerated 2D IST (better than zero filling), keeps the
measured points, gives finite error scales, and learns on a fixed batch."""

import numpy as np
import torch

from mrml.nets.nusnet import UnrolledIst2D
from mrml.train_nus3d import loss_terms, scale_planes, to_inputs
from simulators import get_simulator


def _batch(n=8, shape=(16, 12), seed=0):
    arrays = get_simulator("nus3d", overrides={"n1": shape[0], "n2": shape[1]}).simulate(n, np.random.default_rng(seed))
    x, y = (torch.tensor(a) for a in to_inputs(arrays))
    s = scale_planes(x)[:, None, None, None]
    return torch.cat([x[:, :2] / s, x[:, 2:]], 1), y / s


def test_untrained_network_improves_on_zero_filling_and_keeps_measured_points():
    x, y = _batch()
    net = UnrolledIst2D()
    with torch.no_grad():
        fid, log_sigma = net(x)
    assert fid.shape == (1, 8, 2, 16, 12) and log_sigma.shape == (1, 8, 32, 24)
    assert torch.isfinite(log_sigma).all()
    mask = x[:, 2:3].bool().expand(-1, 2, -1, -1)
    assert torch.equal(fid[0][mask], x[:, :2][mask])
    zf = torch.cat([x[:, :2], torch.zeros_like(x[:, :1])], 1)
    err_net = float(loss_terms(fid, log_sigma, y)[0])
    err_zf = float(loss_terms(zf[None, :, :2], log_sigma, y)[0])
    assert err_net < 0.5 * err_zf


def test_network_learns_on_a_fixed_batch():
    torch.manual_seed(0)
    x, y = _batch(seed=1)
    net = UnrolledIst2D(n_iter=6, refine_every=3, width=8)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    first = None
    for _ in range(60):
        fid, log_sigma = net(x)
        mse, nll = loss_terms(fid, log_sigma, y)
        opt.zero_grad()
        (mse + 1e-3 * nll).backward()
        opt.step()
        first = float(mse.detach()) if first is None else first
    assert float(mse.detach()) < 0.8 * first


def test_inference_path_equals_the_autograd_forward():
    """Without autograd the network runs a leaner path (real views, lerp momentum, channels-last refiners); it
    must give the autograd forward's values, for one member and for several, with and without momentum."""
    x, _ = _batch(n=4, seed=2)
    for k, momentum in ((1, True), (2, True), (3, False)):
        torch.manual_seed(k)
        net = UnrolledIst2D(n_iter=7, refine_every=3, width=4, n_members=k, momentum=momentum)
        for r in [*net.refiners, net.sigma_head]:  # trained-looking refiners: the zero start would hide them
            torch.nn.init.normal_(r[-1].weight, std=0.1)
        with torch.no_grad():
            fast = net(x)
        slow = net(x)
        for a, b in zip(fast, slow):
            assert a.shape == b.shape
            torch.testing.assert_close(a, b.detach(), rtol=1e-5, atol=1e-5 * float(b.abs().max()))
