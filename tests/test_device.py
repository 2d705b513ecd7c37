"""Device choice, and on a machine with CUDA: the shipped networks give the CPU's results there, and
training runs under bfloat16 autocast. The CUDA tests are skipped where there is no GPU (as in CI)."""

import numpy as np
import pytest
import torch

from mrml.device import autocast, pick_device

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def test_pick_device_takes_cuda_only_when_present():
    assert pick_device().type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert pick_device("cpu").type == "cpu"


def test_autocast_is_a_no_op_on_the_cpu_and_when_disabled():
    x = torch.randn(4, 4)
    for ctx in (autocast(torch.device("cpu")), autocast("cuda", enabled=False)):
        with ctx:
            assert (x @ x).dtype == torch.float32


def _relative_max_diff(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max())


@cuda
def test_deernet_on_cuda_gives_the_cpu_distributions():
    from mrml.models import load_model
    from mrml.train import predict_members, validation_set

    x, _ = validation_set(256, 4242)
    on = {d: predict_members(load_model("deernet", device=d)[0], x) for d in ("cpu", "cuda")}
    assert _relative_max_diff(on["cuda"].mean(0), on["cpu"].mean(0)) < 1e-3


@cuda
def test_nusnet_on_cuda_gives_the_cpu_reconstructions():
    from mrml.models import load_model
    from mrml.train_nus import predict, to_inputs
    from simulators import get_simulator

    inp, _ = to_inputs(get_simulator("nus", overrides={"n_points": 128}).simulate(64, np.random.default_rng(4242)))
    on = {d: predict(load_model("nusnet", device=d)[0], inp).mean(0) for d in ("cpu", "cuda")}
    assert _relative_max_diff(on["cuda"], on["cpu"]) < 1e-3


@cuda
def test_nusnet3d_on_cuda_gives_the_cpu_reconstructions():
    from mrml.models import load_model
    from mrml.train_nus3d import predict, to_inputs
    from simulators import get_simulator

    inp, _ = to_inputs(get_simulator("nus3d", overrides={"n1": 32, "n2": 24}).simulate(
        8, np.random.default_rng(4242)))
    on = {d: predict(load_model("nusnet3d", device=d)[0], inp) for d in ("cpu", "cuda")}
    assert _relative_max_diff(on["cuda"][0].mean(0), on["cpu"][0].mean(0)) < 1e-3
    assert _relative_max_diff(on["cuda"][1], on["cpu"][1]) < 1e-3


@cuda
def test_deernet_training_on_cuda_lowers_the_loss(tmp_path):
    from mrml.train import train_deernet

    card = train_deernet(tmp_path, ensemble=2, steps=150, batch_size=64, lr=3e-3, seed=3, pool_size=4096,
                         refresh=512, refresh_every=25, n_val=300, hidden=64, n_layers=2, progress=False,
                         device="cuda")
    loss = np.loadtxt(tmp_path / "loss.csv", skiprows=1)
    assert card["training"]["device"].startswith("cuda")
    assert np.isfinite(loss).all() and loss[-20:].mean() < 0.6 * loss[:20].mean()


def test_map_batches_keeps_order_and_torch_threads_and_runs_without_gradients():
    import torch

    from mrml.device import map_batches

    w = torch.ones(3, requires_grad=True)
    before = torch.get_num_threads()
    out = map_batches(lambda i: (i, (w * i).requires_grad), list(range(7)), device="cpu")
    assert [i for i, _ in out] == list(range(7))
    assert not any(grad for _, grad in out)
    assert torch.get_num_threads() == before


def test_nus_prediction_is_the_same_in_parallel_batches_as_in_one():
    import numpy as np

    from mrml.models import load_model
    from mrml.train_nus import predict

    net, _ = load_model("nusnet-fast", device="cpu")
    rng = np.random.default_rng(0)
    inp = rng.standard_normal((24, 3, 32)).astype(np.float32)
    inp[:, 2] = rng.random((24, 32)) < 0.3
    inp[:, :2] *= inp[:, 2:3]
    assert np.array_equal(predict(net, inp), predict(net, inp, batch_size=24))
