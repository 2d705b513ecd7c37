"""NUS network: it can fit data (gradients flow through the gated blocks), and a short training run
writes a card and weights that load through the registry."""

import json

import numpy as np
import torch

from mrml import models
from mrml.nets.nusnet import NusNetEnsemble, scale_columns
from mrml.train_nus import to_inputs, train_nusnet
from simulators import get_simulator


def test_network_fits_a_fixed_batch_and_keeps_measured_points():
    torch.manual_seed(0)
    arrays = get_simulator("nus", overrides={"n_points": 64}).simulate(16, np.random.default_rng(0))
    x, y = (torch.tensor(a) for a in to_inputs(arrays))
    s = scale_columns(x)[:, None, None]
    xs, ys = torch.cat([x[:, :2] / s, x[:, 2:]], 1), y / s
    net = NusNetEnsemble(width=16, dilations=(1, 2, 4, 8, 1, 2, 4, 8), n_members=1)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    losses = []
    for _ in range(300):
        loss = ((net(xs) - ys[None]) ** 2).sum(-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    zero_filled = float(((xs[:, :2] - ys) ** 2).sum(-1).mean())
    assert losses[-1] < 0.5 * zero_filled
    out = net(xs).detach()
    mask = xs[:, 2:3].bool().expand(-1, 2, -1)
    assert torch.equal(out[0][mask], xs[:, :2][mask])  # data consistency


def test_short_training_run_writes_a_loadable_model(tmp_path):
    card = train_nusnet(tmp_path / "m", ensemble=2, steps=30, batch_size=16, pool_size=1024, refresh=256,
                        n_val=8, progress=False, seed=3, overrides={"n_points": 64}, width=8, dilations=(1, 2, 4))
    assert json.loads((tmp_path / "m" / "card.json").read_text())["sha256"] == card["sha256"]
    model, card2 = models.load_model(tmp_path / "m", device="cpu")
    assert card2["architecture"] == "nusnet" and model.n_members == 2
    assert set(card["metrics_validation"]) >= {"nrmsd_net", "nrmsd_ist", "share_net_better"}
    assert card["training"]["steps"] == 30
