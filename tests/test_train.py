"""A seconds-long training run: the loss falls and the output is a loadable, verified model."""

import hashlib
import json

import numpy as np
import pytest
import torch

from mrml import models
from mrml.errors import InputError
from mrml.train import train_deernet


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny")
    card = train_deernet(out, ensemble=2, steps=150, batch_size=64, lr=3e-3, seed=3, pool_size=4096, refresh=512,
                         refresh_every=25, n_val=300, hidden=64, n_layers=2, progress=False, command="test")
    return out, card


def test_loss_falls(tiny_model):
    out, _ = tiny_model
    loss = np.loadtxt(out / "loss.csv", skiprows=1)
    assert loss.size == 150
    assert loss[-20:].mean() < 0.6 * loss[:20].mean()


def test_card_and_weights_are_consistent(tiny_model):
    out, card = tiny_model
    on_disk = json.loads((out / "card.json").read_text())
    assert on_disk["sha256"] == hashlib.sha256((out / "weights.pt").read_bytes()).hexdigest()
    assert on_disk["training"]["seed"] == 3
    m = on_disk["metrics_validation"]
    assert 0.0 < m["overlap"] <= 1.0
    # the calibrated band reaches its nominal coverage on the validation traces it was fitted to
    assert card["calibration"]["coverage_significant"] >= 0.95
    assert all(g["coverage_significant"] >= 0.95 for g in card["calibration"]["groups"])
    levels = card["calibration_by_level"]  # the other bands `mrml deer --level` offers, fitted the same way
    assert set(levels) == {"0.8", "0.85", "0.9"}
    assert all(levels[k]["coverage_significant"] >= float(k) for k in levels)
    model, card2 = models.load_model(out, device="cpu")
    assert card2["hparams"]["n_members"] == 2


def test_tampered_weights_are_refused(tiny_model, tmp_path):
    out, _ = tiny_model
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "card.json").write_text((out / "card.json").read_text())
    data = bytearray((out / "weights.pt").read_bytes())
    data[-10] ^= 0xFF
    (bad / "weights.pt").write_bytes(bytes(data))
    with pytest.raises(models.InputError, match="sha256"):
        models.verify(bad)


def test_training_from_a_store(tmp_path):
    from mrml.deer_data import TRAINING_PRESET
    from mrml.store import write_store

    store = tmp_path / "d.zarr"
    write_store(store, "deer", n=1024, chunk=512, seed=11, overrides=dict(TRAINING_PRESET), progress=False)
    card = train_deernet(tmp_path / "m", data=store, ensemble=2, steps=30, batch_size=32, pool_size=1024,
                         refresh=512, refresh_every=10, n_val=200, hidden=32, n_layers=1, progress=False)
    assert card["training"]["data"] == str(store)
    assert (tmp_path / "m" / "weights.pt").exists()


def test_incomplete_store_is_refused(tmp_path):
    from mrml.errors import InputError
    from mrml.store import create_or_open_store
    from simulators import get_simulator

    store = tmp_path / "half.zarr"
    create_or_open_store(store, get_simulator("deer"), n=1024, chunk=512, seed=1)
    with pytest.raises(InputError, match="not complete"):
        train_deernet(tmp_path / "m", data=store, ensemble=1, steps=1, pool_size=16, progress=False)


def test_fine_tuning_starts_from_the_given_model_and_records_it(tiny_model, tmp_path):
    path, first = tiny_model
    card = train_deernet(tmp_path / "b", steps=1, batch_size=16, lr=1e-12, seed=4, pool_size=512, refresh=128,
                         n_val=64, progress=False, init=path)
    assert card["training"]["init"]["sha256"] == first["sha256"]
    assert card["hparams"] == first["hparams"]  # ensemble size and widths come from the model it starts from
    a, _ = models.load_model(path, device="cpu")
    b, _ = models.load_model(tmp_path / "b", device="cpu")
    params = dict(b.named_parameters())
    for name, wa in a.named_parameters():  # one step at lr 1e-12: the weights it started from (float16 files)
        assert torch.allclose(wa, params[name], rtol=1e-3, atol=1e-4), name
    with pytest.raises(InputError, match="not a deernet model"):
        train_deernet(tmp_path / "c", steps=1, progress=False, init="nusnet")


def test_error_scale_likelihood_is_gaussian_and_stays_finite_for_any_scale():
    from mrml.train import SIGMA_FLOOR, gaussian_nll

    err2 = torch.tensor([0.5, 2.0])
    log_sigma = torch.tensor([0.1, -0.3])
    var = torch.exp(2 * log_sigma)
    assert float(gaussian_nll(err2, log_sigma)) == pytest.approx(float((err2 / (2 * var) + torch.log(var)).mean()),
                                                                 rel=1e-6)
    # zero error (a noise-free empty plane): without the floor log sigma is pushed down until the loss is NaN
    low = torch.full((4,), -60.0, requires_grad=True)
    loss = gaussian_nll(torch.zeros(4), low)
    loss.backward()
    assert np.isfinite(float(loss)) and float(low.grad.abs().max()) < 1e-6
    assert float(loss) == pytest.approx(2 * np.log(SIGMA_FLOOR), rel=1e-6)
    # a runaway head (log sigma far above any error): finite, and pulled back down
    high = torch.full((4,), 60.0, requires_grad=True)
    loss = gaussian_nll(torch.full((4,), 1e6), high)
    loss.backward()
    assert np.isfinite(float(loss)) and np.all(np.isfinite(high.grad.numpy())) and float(high.grad.min()) > 0
