"""The unrolled NUS networks give the same output with and without autograd (the modulus takes a faster
route at inference), and their gradients stay finite where soft thresholding leaves exact zeros."""

import torch

from mrml.nets.nusnet import UnrolledIst, UnrolledIst2D, _conv1d_as_2d, _modulus


def _active(net):
    torch.manual_seed(1)
    for p in net.parameters():
        if p.dim() > 1:
            torch.nn.init.normal_(p, std=0.05)  # refiners start at zero; make them act
    return net


def _inputs(shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(4, 3, *shape, generator=g)
    x[:, 2] = (torch.rand(4, *shape, generator=g) < 0.3).float()
    x[:, :2] *= x[:, 2:3]
    return x


def test_modulus_equals_abs():
    z = torch.randn(64, 33, dtype=torch.complex64, generator=torch.Generator().manual_seed(0))
    z[0, :5] = 0
    with torch.no_grad():
        torch.testing.assert_close(_modulus(z), z.abs(), rtol=4e-7, atol=0)  # a few float32 ulps


def test_inference_equals_training_forward_and_gradients_are_finite():
    for net, x in ((_active(UnrolledIst(n_iter=8, width=8, n_members=2)), _inputs((32,))),
                   (_active(UnrolledIst2D(n_iter=6, width=4)), _inputs((12, 8)))):
        with torch.no_grad():
            fast = net(x)
        slow = net(x)  # autograd on: complex abs
        for a, b in zip(fast if isinstance(fast, tuple) else (fast,), slow if isinstance(slow, tuple) else (slow,)):
            torch.testing.assert_close(a, b.detach(), rtol=1e-5, atol=1e-5 * float(b.detach().abs().max()))
        loss = sum(o.square().mean() for o in (slow if isinstance(slow, tuple) else (slow,)))
        loss.backward()
        assert all(torch.isfinite(p.grad).all() for p in net.parameters() if p.grad is not None)


def test_refiner_as_2d_convolutions_equals_conv1d_with_gradients():
    torch.manual_seed(2)
    layers = torch.nn.Sequential(torch.nn.Conv1d(3, 8, 5, padding=2), torch.nn.GELU(),
                                 torch.nn.Conv1d(8, 8, 5, padding=4, dilation=2), torch.nn.GELU(),
                                 torch.nn.Conv1d(8, 2, 5, padding=2))
    x = torch.randn(6, 3, 40)
    ref = layers(x)
    grads_ref = torch.autograd.grad(ref.square().sum(), list(layers.parameters()))
    out = _conv1d_as_2d(layers, x)
    grads = torch.autograd.grad(out.square().sum(), list(layers.parameters()))
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    for g, g_ref in zip(grads, grads_ref):
        torch.testing.assert_close(g, g_ref, rtol=1e-4, atol=1e-4)


def test_learned_sigma_head_leaves_the_reconstruction_alone():
    """The error-scale head reads the final spectra detached: the reconstruction is that of the same network
    without the head, and the head's likelihood sends no gradient into the reconstruction's weights."""
    x = _inputs((32,))
    plain = _active(UnrolledIst(n_iter=8, width=8, n_members=1))
    with_head = UnrolledIst(n_iter=8, width=8, n_members=1, learned_sigma=True)
    with_head.load_state_dict({**with_head.state_dict(), **plain.state_dict()})
    fid, log_sigma = with_head(x)
    assert log_sigma.shape == (1, 4, 64) and torch.isfinite(log_sigma).all()
    torch.testing.assert_close(fid, plain(x))
    log_sigma.sum().backward()
    assert all(p.grad is None for name, p in with_head.named_parameters() if not name.startswith("sigma_heads"))
    assert all(p.grad is not None for name, p in with_head.named_parameters() if name.startswith("sigma_heads"))
    assert with_head.hparams["learned_sigma"] and "learned_sigma" not in plain.hparams
