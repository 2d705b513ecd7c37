"""The shipped 2D NUS networks (the ``nusnet`` ensemble and ``nusnet-fast``, one member with a learned error
scale): intact weights, better than IST on held-out simulations, an honest band, and better than IST on
retrospective NUS of a real fully sampled HSQC."""

import numpy as np
import pytest

from mrml import models
from mrml.stages import nus_net
from mrml.stages.nus_ist import ist
from mrml.train_nus import band_scale, coverage, predict, spectral_nrmsd, to_inputs
from simulators import get_simulator
from tests.conftest import REALDATA

MODELS = ("nusnet", "nusnet-fast")
pytestmark = pytest.mark.skipif(not set(MODELS) <= set(models.list_models()), reason="no shipped nusnet weights")


@pytest.mark.parametrize("name", MODELS)
def test_card_and_weights(name):
    card = models.load_card(name)
    assert models.verify(name) == card["sha256"]
    assert (models.WEIGHTS_DIR / name / card["weights"]).stat().st_size < 10e6
    assert card["training"]["command"].startswith("mrml train nusnet")
    assert card["calibration"]["level"] == 0.95 and card["calibration"]["z"] > 1
    assert card["hparams"].get("learned_sigma", False) == (name == "nusnet-fast")


@pytest.fixture(scope="module", params=MODELS)
def held_out(request):
    """Columns from a seed used neither for training nor calibration nor validation of either model."""
    sim = get_simulator("nus", overrides={"n_points": 128})
    inp, tgt = to_inputs(sim.simulate(300, np.random.default_rng([4242, 11])))
    model, card = models.load_model(request.param, device="cpu")
    m, sigmas = predict(model, inp, return_sigma=True)
    return inp, tgt[:, 0] + 1j * tgt[:, 1], m[:, :, 0] + 1j * m[:, :, 1], card, sigmas


def test_network_beats_ist_on_held_out_columns(held_out):
    inp, truth, members, _, _ = held_out
    mask = inp[:, 2] > 0
    x = inp[:, 0] + 1j * inp[:, 1]
    err_ist = np.array([spectral_nrmsd(ist(x[i, mask[i]], np.flatnonzero(mask[i]), 128)[None], truth[i][None])[0]
                        for i in range(len(x))])
    err_net = spectral_nrmsd(members.mean(0), truth)
    assert err_net.mean() < 0.9 * err_ist.mean()
    assert np.mean(err_net < err_ist) > 0.6


def test_calibrated_band_covers_about_95_percent_of_held_out_truth(held_out):
    inp, truth, members, card, sigmas = held_out
    cov = coverage(members, truth, band_scale(card["calibration"], 128, fraction=inp[:, 2].mean(axis=1)),
                   sigmas=sigmas)
    assert 0.92 <= cov["coverage_all"] <= 0.99
    assert 0.90 <= cov["coverage_significant"] <= 0.995
    raw = coverage(members, truth, 1.0, sigmas=sigmas)
    if sigmas is None:  # the raw ensemble spread covers far less
        assert raw["coverage_all"] < cov["coverage_all"] - 0.1
    else:  # a learned error scale is near its nominal coverage already; calibration brings it nearer
        assert abs(cov["coverage_significant"] - 0.95) < abs(raw["coverage_significant"] - 0.95)


def _cols(sigmas, sel):
    """The learned error scales (K, m, 2n) of the selected columns, or None for an ensemble."""
    return None if sigmas is None else sigmas[:, sel]


def test_band_scale_follows_the_sampling_fraction(held_out):
    """One scale per record length under-covers sparse columns and over-covers dense ones; per fraction it
    covers about 95 % of both (measured 0.916 / 0.968 with the length alone, 0.953 / 0.960 per fraction)."""
    inp, truth, members, card, sigmas = held_out
    calib = card["calibration"]
    length_only = band_scale({k: v for k, v in calib.items() if k != "z_by_points_fraction"}, 128)
    frac = inp[:, 2].mean(axis=1)
    for sel in (frac < 0.175, frac >= 0.325):
        z = band_scale(calib, 128, fraction=frac[sel])
        cov = coverage(members[:, sel], truth[sel], z, sigmas=_cols(sigmas, sel))
        assert 0.93 <= cov["coverage_significant"] <= 0.99
    sparse, dense = frac < 0.175, frac >= 0.325
    assert coverage(members[:, sparse], truth[sparse], length_only,
                    sigmas=_cols(sigmas, sparse))["coverage_significant"] < 0.93
    assert np.all(band_scale(calib, 128, fraction=frac[sparse]) > length_only)
    assert np.all(band_scale(calib, 128, fraction=frac[dense]) < length_only)


HSQC = REALDATA / "nmr" / "bruker_parser_hsqc" / "test.fid"


def indirect_spectrum(td):
    """Sine bell, zero fill x2, FT, PS 90 (the depositor's), real part; 16 edge rows each side dropped."""
    from mrml.stages.nus import indirect_spectrum as process

    return process(td, phase_deg=90.0)[16:-16]


@pytest.mark.skipif(not HSQC.exists(), reason="real data not present")
@pytest.mark.parametrize("name", MODELS)
def test_network_on_retrospective_nus_of_the_real_hsqc(name):
    import nmrglue as ng

    from simulators.nmr.schedules import poisson_gap

    dic, data = ng.pipe.read(str(HSQC))  # direct 1H processed as the depositor's header records
    dic, data = ng.pipe_proc.sp(dic, data, off=0.5, end=1.0, pow=1, c=0.5)
    dic, data = ng.pipe_proc.zf(dic, data, size=2048)
    dic, data = ng.pipe_proc.ft(dic, data, auto=True)
    dic, data = ng.pipe_proc.ps(dic, data, p0=137.6, p1=-360.0 * float(dic["FDDMXVAL"]))
    dic, plane = ng.pipe_proc.di(*ng.pipe_proc.ext(dic, data, x1=229, xn=932))
    n = plane.shape[0] // 2
    td = plane[0::2].astype(np.float64) + 1j * plane[1::2]
    ref = indirect_spectrum(td)
    err = {}
    for frac in (0.125, 0.25):
        for seed in range(3):  # one schedule decides a lot: the mean over three
            sched = poisson_gap(n, int(frac * n), rng=np.random.default_rng([seed, int(frac * 1000)]))
            y = td[sched]
            net = nus_net.members(y, sched, n, phase_deg=nus_net.estimate_phase_deg(y, sched, n), model=name).mean(0)
            for method, rec in (("ist", ist(y, sched, n)), ("net", net)):
                e = np.linalg.norm(indirect_spectrum(rec) - ref) / np.linalg.norm(ref)
                err[method, frac] = err.get((method, frac), 0.0) + e / 3
    # measured with 10 schedules (benchmarks/bench_nus_real.py --schedules 10): nusnet (session 7) 0.262 vs
    # 0.317 at 12.5 %, 0.117 vs 0.140 at 25 %; nusnet-fast (session 13) 0.263 vs 0.316, 0.117 vs 0.141
    assert err["net", 0.125] < 0.9 * err["ist", 0.125]
    assert err["net", 0.25] < 0.95 * err["ist", 0.25]
