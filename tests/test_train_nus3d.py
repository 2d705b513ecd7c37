"""3D NUS training: a short run writes a card with a calibrated band and weights that load through the registry."""

import json

import numpy as np

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
