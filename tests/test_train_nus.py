"""NUS network: it can fit data (gradients flow through the gated blocks), and a short training run
writes a card and weights that load through the registry."""

import json

import numpy as np
import pytest
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
                        n_val=8, progress=False, seed=3, lengths=(32, 64),
                        hparams={"n_iter": 8, "refine_every": 4, "width": 8})
    assert json.loads((tmp_path / "m" / "card.json").read_text())["sha256"] == card["sha256"]
    model, card2 = models.load_model(tmp_path / "m", device="cpu")
    assert card2["architecture"] == "nusnet" and model.n_members == 2
    assert set(card["metrics_validation"]) == {"points_32", "points_64"}
    assert set(card["metrics_validation"]["points_64"]) >= {"nrmsd_net", "nrmsd_ist", "share_net_better",
                                                            "coverage_all", "coverage_significant"}
    assert card["calibration"]["z"] > 0 and set(card["calibration"]["z_by_points"]) == {"32", "64"}
    from mrml.train_nus import band_scale

    z32, z64 = (card["calibration"]["z_by_points"][k] for k in ("32", "64"))
    assert band_scale(card["calibration"], 32) == pytest.approx(z32)
    assert band_scale(card["calibration"], 45) == pytest.approx(z32 + (z64 - z32) * np.log2(45 / 32))
    assert band_scale(card["calibration"], 1024) == pytest.approx(z64)
    assert card["training"]["steps"] == 30 and card["hparams"]["kind"] == "unrolled"
    assert set(card["calibration"]["z_by_points_fraction"]) == {"32", "64"}


def test_band_scale_interpolates_in_sampling_fraction_and_length():
    from mrml.train_nus import band_scale

    calib = {"z": 9.0, "z_by_points": {"32": 9.0, "64": 7.0},
             "z_by_points_fraction": {"32": {"0.1375": 10.0, "0.2125": 6.0}, "64": {"0.1375": 8.0, "0.2125": 4.0}}}
    assert band_scale(calib, 32, fraction=0.1375) == pytest.approx(10.0)
    assert band_scale(calib, 32, fraction=0.175) == pytest.approx(8.0)
    assert band_scale(calib, 32, fraction=0.05) == pytest.approx(10.0)  # nearest bin outside the calibrated ones
    assert band_scale(calib, 45, fraction=0.2125) == pytest.approx(6.0 - 2.0 * np.log2(45 / 32))
    assert band_scale(calib, 1024, fraction=0.4) == pytest.approx(4.0)
    assert band_scale(calib, 64, fraction=np.array([0.1375, 0.2125])) == pytest.approx([8.0, 4.0])
    assert band_scale(calib, 64) == pytest.approx(7.0)  # no fraction: the length's scale


def test_unrolled_ist_starts_as_plain_ist_and_learning_beats_it():
    from mrml.nets.nusnet import UnrolledIst
    from mrml.stages.nus_ist import ist
    from mrml.train_nus import spectral_loss, spectral_nrmsd

    torch.manual_seed(0)
    sim = get_simulator("nus", overrides={"n_points": 64})
    xv, yv = to_inputs(sim.simulate(48, np.random.default_rng(9)))
    xp, yp = to_inputs(sim.simulate(1024, np.random.default_rng(1)))
    net = UnrolledIst(n_iter=12, refine_every=4, width=8, n_members=1, final_threshold=0.02)

    def val_error():
        with torch.no_grad():
            xt = torch.tensor(xv)
            s = scale_columns(xt)[:, None, None]
            out = (net(torch.cat([xt[:, :2] / s, xt[:, 2:]], 1))[0] * s).numpy()
        return spectral_nrmsd(out[:, 0] + 1j * out[:, 1], yv[:, 0] + 1j * yv[:, 1]).mean()

    mask = xv[:, 2] > 0
    xs = xv[:, 0] + 1j * xv[:, 1]
    plain = np.stack([ist(xs[i, mask[i]], np.flatnonzero(mask[i]), 64, n_iter=12, final_threshold=0.02)
                      for i in range(len(xs))])
    truth = yv[:, 0] + 1j * yv[:, 1]
    assert val_error() == pytest.approx(spectral_nrmsd(plain, truth).mean(), rel=1e-3)  # untrained = IST
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    rng = np.random.default_rng(0)
    before = val_error()
    for _ in range(150):
        i = rng.integers(0, len(xp), 32)
        xb, yb = torch.tensor(xp[i]), torch.tensor(yp[i])
        s = scale_columns(xb)[:, None, None]
        loss = spectral_loss(net(torch.cat([xb[:, :2] / s, xb[:, 2:]], 1)), yb / s)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert val_error() < 0.85 * before


def test_fine_tuning_starts_from_the_given_model_and_records_it(tmp_path):
    common = dict(ensemble=2, batch_size=16, pool_size=512, refresh=128, n_val=8, progress=False, lengths=(32,))
    first = train_nusnet(tmp_path / "a", steps=20, seed=3, hparams={"n_iter": 8, "refine_every": 4, "width": 8},
                         **common)
    card = train_nusnet(tmp_path / "b", steps=1, lr=1e-12, seed=4, init=tmp_path / "a", loss="log-mse", **common)
    assert card["training"]["init"]["sha256"] == first["sha256"]
    assert card["training"]["loss"] == "log-mse" and card["hparams"]["n_iter"] == 8
    a, _ = models.load_model(tmp_path / "a", device="cpu")
    b, _ = models.load_model(tmp_path / "b", device="cpu")
    for (name, wa), wb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.allclose(wa, wb, atol=1e-6), name  # one step at lr 1e-12: the weights it started from
    from mrml.errors import InputError

    with pytest.raises(InputError, match="not a nusnet model"):
        train_nusnet(tmp_path / "c", steps=1, init="deernet", **common)


def test_log_loss_weighs_every_column_by_its_relative_error():
    from mrml.train_nus import LOG_FLOOR, spectral_loss

    rng = np.random.default_rng(0)
    target = torch.tensor(rng.standard_normal((3, 2, 32)), dtype=torch.float32)
    err = torch.tensor(rng.standard_normal((1, 3, 2, 32)), dtype=torch.float32) * torch.tensor([1.0, 0.1, 0.01])[
        None, :, None, None]
    spec = np.fft.fft(err[0, :, 0].numpy() + 1j * err[0, :, 1].numpy(), n=64, axis=-1)
    per_column = (np.abs(spec) ** 2).sum(-1) / 64
    assert float(spectral_loss(target[None] + err, target)) == pytest.approx(per_column.mean(), rel=1e-4)
    assert float(spectral_loss(target[None] + err, target, kind="log-mse")) == pytest.approx(
        np.log(per_column + LOG_FLOOR).mean(), rel=1e-4)
    # a column 100x more accurate counts as much as the others in the log loss, not 1e4 times less
    assert per_column[2] / per_column.sum() < 1e-3


def test_shipped_band_covers_the_strong_points_of_noisy_sparse_columns():
    """The scale per length and fraction is fitted on columns of peak SNR about 20 or more; at the peaks of
    sparse, noisier columns the ensemble spread falls short (128-point columns at 10-20 %, column SNR < 30:
    0.895 of the strong points covered). The SNR factor brings that to 0.94 and leaves SNR > 100 alone (0.98)."""
    from mrml.models import load_model
    from mrml.calibration import snr_factor
    from mrml.train_nus import _relative_needs
    from simulators import get_simulator

    net, card = load_model("nusnet", device="cpu")
    calib = card["calibration"]
    sim = get_simulator("nus", overrides={"n_points": 128, "sampling_frac": [0.1, 0.2], "noise_frac": [0.001, 3.0]})
    frac, snr, _, rel_strong = _relative_needs(net, {128: sim}, calib, seed=4242, n=512)  # not a calibration seed
    g = snr_factor(calib, frac, snr)

    def strong_coverage(sel, widen):
        rel = np.concatenate([rel_strong[i] / (g[i] if widen else 1.0) for i in np.flatnonzero(sel)])
        return float(np.mean(rel <= 1.0)), rel.size

    low, high = snr < 30, snr >= 100
    (without, n_low), (with_factor, _) = strong_coverage(low, False), strong_coverage(low, True)
    assert n_low > 1000 and without < 0.92 and with_factor >= 0.93
    assert strong_coverage(high, True)[0] >= 0.95 and np.all(g[high] == 1.0)


def test_peak_height_loss_is_the_relative_error_at_the_true_peaks():
    """0 for a perfect reconstruction; log(1 + 0.2^2) for one whose spectrum is 0.8 of the truth everywhere;
    points off the peaks do not count."""
    from mrml.train_nus import peak_height_loss, spectral_loss

    arrays = get_simulator("nus", overrides={"n_points": 64}).simulate(8, np.random.default_rng(1))
    target = torch.tensor(to_inputs(arrays)[1])
    assert float(peak_height_loss(target[None], target)) == pytest.approx(0.0, abs=1e-10)
    assert float(peak_height_loss(0.8 * target[None], target)) == pytest.approx(np.log1p(0.04), rel=1e-4)
    n = target.shape[-1]
    t = torch.arange(n)
    wiggle = 1e-3 * torch.stack([torch.cos(2.9 * t), torch.sin(2.9 * t)])  # a line far from every peak
    assert float(peak_height_loss((target + wiggle)[None], target)) < 1e-3
    both = float(spectral_loss(0.8 * target[None], target, kind="log-mse-peaks"))
    assert both == pytest.approx(float(spectral_loss(0.8 * target[None], target, kind="log-mse")) + np.log1p(0.04),
                                 rel=1e-4)


def test_fine_tuning_to_one_member_with_a_learned_error_scale(tmp_path):
    """``init`` with changed hyperparameters keeps the first member's weights and adds a fresh head; the band is
    then calibrated on the learned scale."""
    common = dict(steps=2, batch_size=8, pool_size=256, refresh=0, n_val=8, progress=False, seed=2, lengths=(32,))
    train_nusnet(tmp_path / "a", ensemble=2, hparams={"n_iter": 8, "refine_every": 4, "width": 8}, **common)
    card = train_nusnet(tmp_path / "b", init=tmp_path / "a", ensemble=1, hparams={"learned_sigma": True},
                        lr=1e-12, **common)
    a, _ = models.load_model(tmp_path / "a", device="cpu")
    b, card_b = models.load_model(tmp_path / "b", device="cpu")
    assert b.n_members == 1 and b.learned_sigma and card_b["hparams"]["learned_sigma"]
    assert card["training"]["init"]["changed_hparams"] == {"learned_sigma": True, "n_members": 1}
    torch.testing.assert_close(b.threshold_logit, a.threshold_logit[:1], atol=1e-6, rtol=0)
    for wa, wb in zip(a.refiners[0].parameters(), b.refiners[0].parameters()):
        torch.testing.assert_close(wa, wb, atol=1e-6, rtol=0)
    assert "learned" in card["task"] and card["calibration"]["z"] > 0
    assert card["metrics_validation"]["points_32"]["coverage_all"] > 0


@pytest.mark.parametrize("args, message", [
    (["nusnet", "--simulate", "nus", "--init", "nusnet", "--hparam", "kind=cnn"], "drop --hparam"),
    (["nusnet3d", "--simulate", "nus3d", "--loss", "log-mse-peaks"], "unknown loss 'log-mse-peaks'"),
    (["nusnet", "--simulate", "nus", "--init", "nusnet3d", "--ensemble", "1"], "not a nusnet model"),
])
def test_train_refuses_what_it_cannot_do_in_one_line(tmp_path, args, message):
    from tests.test_cli_deer import mrml

    res = mrml("train", *args, "--steps", "1", "--out", str(tmp_path / "m"))
    assert res.returncode != 0 and message in res.stderr
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "m" / "card.json").exists()
