"""3D NUS training: a short run writes a card with a calibrated band and weights that load through the registry."""

import json

import numpy as np
import pytest

from mrml import models
from mrml.train_nus3d import calibrate, coverage, predict, to_inputs, train_nusnet3d
from simulators import get_simulator


def test_short_run_writes_a_loadable_calibrated_model(tmp_path):
    card = train_nusnet3d(tmp_path / "m", steps=20, pool_size=32, refresh=8, refresh_every=10, n_val=8,
                          progress=False, seed=2, shapes=((12, 8), (16, 12)), hparams={"n_iter": 6})
    on_disk = json.loads((tmp_path / "m" / "card.json").read_text())
    assert on_disk["sha256"] == card["sha256"] and on_disk["architecture"] == "nusnet3d"
    assert set(on_disk["metrics_validation"]) == {"12x8", "16x12"}
    assert on_disk["calibration"]["z"] == max(on_disk["calibration"]["z_by_shape"].values())
    net, loaded = models.load_model(tmp_path / "m", device="cpu")
    assert loaded["sha256"] == card["sha256"]
    # the band scale reaches its nominal coverage on the planes it was fitted to
    sim = get_simulator("nus3d", overrides={"n1": 16, "n2": 12})
    inp, tgt = to_inputs(sim.simulate(16, np.random.default_rng(5)))
    fids, sigmas = predict(net, inp)
    truth = tgt[:, 0] + 1j * tgt[:, 1]
    z = calibrate(fids, sigmas, truth)["z"]
    assert coverage(fids, sigmas, truth, z)["coverage_all"] >= 0.95


def test_fine_tuning_with_the_log_loss_records_its_start(tmp_path):
    common = dict(pool_size=16, refresh=8, refresh_every=10, n_val=4, progress=False, shapes=((12, 8),))
    first = train_nusnet3d(tmp_path / "a", steps=5, seed=2, hparams={"n_iter": 6}, **common)
    card = train_nusnet3d(tmp_path / "b", steps=5, seed=3, init=tmp_path / "a", loss="log-mse", **common)
    assert card["training"]["init"]["sha256"] == first["sha256"] and card["training"]["loss"] == "log-mse"
    assert card["hparams"]["n_iter"] == 6  # the start's hyperparameters


def test_fine_tuning_to_fewer_layers_keeps_the_first_layers(tmp_path):
    """``init`` with a smaller ``n_iter`` starts as the first layers of the trained network: their thresholds,
    momenta and refiners, and the error-scale head."""
    import torch

    common = dict(pool_size=16, refresh=8, refresh_every=10, n_val=4, progress=False, shapes=((12, 8),))
    train_nusnet3d(tmp_path / "a", steps=5, seed=2, hparams={"n_iter": 6, "refine_every": 2}, **common)
    card = train_nusnet3d(tmp_path / "b", steps=2, seed=3, init=tmp_path / "a", hparams={"n_iter": 4}, lr=1e-12,
                          **common)
    a, _ = models.load_model(tmp_path / "a", device="cpu")
    b, _ = models.load_model(tmp_path / "b", device="cpu")
    assert card["hparams"]["n_iter"] == 4 and card["hparams"]["refine_every"] == 2 and len(b.refiners) == 2
    assert card["training"]["init"]["changed_hparams"] == {"n_iter": 4}
    torch.testing.assert_close(b.threshold_logit, a.threshold_logit[:, :4], atol=1e-6, rtol=0)
    torch.testing.assert_close(b.momentum, a.momentum[:, :4], atol=1e-6, rtol=0)
    for part in ("refiners.0", "refiners.1", "sigma_head"):
        for wa, wb in zip(a.get_submodule(part).parameters(), b.get_submodule(part).parameters()):
            torch.testing.assert_close(wa, wb, atol=1e-6, rtol=0)


def test_log_loss_is_the_mean_log_of_each_planes_error():
    import torch

    from mrml.train_nus3d import LOG_FLOOR, loss_terms, plane_spectrum

    rng = np.random.default_rng(1)
    target = torch.tensor(rng.standard_normal((2, 2, 8, 6)), dtype=torch.float32)
    err = torch.tensor(rng.standard_normal((1, 2, 2, 8, 6)), dtype=torch.float32)
    err[:, 1] *= 0.01
    log_sigma = torch.zeros(1, 2, 16, 12)
    f = plane_spectrum(torch.complex(err[:, :, 0], err[:, :, 1]))
    per_plane = (f.abs() ** 2).mean(dim=(-2, -1)) / (16 * 12)  # per point of the zero-filled spectrum
    mse, _ = loss_terms(target[None] + err, log_sigma, target)
    log_mse, _ = loss_terms(target[None] + err, log_sigma, target, kind="log-mse")
    assert float(mse) == pytest.approx(float(per_plane.mean()), rel=1e-4)
    assert float(log_mse) == pytest.approx(float(torch.log(per_plane + LOG_FLOOR).mean()), rel=1e-4)
