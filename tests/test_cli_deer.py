"""`mrml deer` end to end: outputs, batch behaviour, bad input, real Bruker data."""

import csv
import hashlib
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from mrml.io import read, write
from mrml.spectrum import Axis, Spectrum


def mrml(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "mrml.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_single_trace_csv_plot_json(example_deer, tmp_path):
    before = (_digest(example_deer), _digest(example_deer.with_suffix(".DSC")))
    res = mrml("deer", example_deer, "-o", tmp_path / "r.csv", "--plot", tmp_path / "r.png", "--json")
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert {"mod_depth", "r_mean_nm", "warnings"} <= set(summary)
    rows = list(csv.DictReader((tmp_path / "r.csv").open()))
    assert list(rows[0]) == ["r_nm", "P", "P_lower", "P_upper"]
    p = np.array([[float(r[k]) for k in ("r_nm", "P", "P_lower", "P_upper")] for r in rows])
    assert np.all(p[:, 2] <= p[:, 1] + 1e-9) and np.all(p[:, 1] <= p[:, 3] + 1e-9)
    assert np.trapezoid(p[:, 1], p[:, 0]) == pytest.approx(1.0, abs=0.02)
    assert (tmp_path / "r.png").stat().st_size > 10_000
    assert before == (_digest(example_deer), _digest(example_deer.with_suffix(".DSC")))  # input untouched
    # never overwrite without --overwrite
    again = mrml("deer", example_deer, "-o", tmp_path / "r.csv")
    assert again.returncode != 0 and "--overwrite" in again.stderr and "Traceback" not in again.stderr


def test_band_level_gives_the_band_calibrated_at_that_level(example_deer, tmp_path):
    def band(level):
        res = mrml("deer", example_deer, "-o", tmp_path / f"{level}.csv", "--level", level, "--json")
        assert res.returncode == 0, res.stderr
        assert json.loads(res.stdout)["band_level"] == pytest.approx(float(level))
        rows = np.loadtxt(tmp_path / f"{level}.csv", delimiter=",", skiprows=1)
        return rows[:, 1], rows[:, 3] - rows[:, 2]

    (p95, w95), (p80, w80) = band("0.95"), band("0.8")
    assert np.array_equal(p95, p80)  # the same P(r): only the band changes
    assert np.all(w80 <= w95 + 1e-9) and w80.sum() < 0.8 * w95.sum()
    bad = mrml("deer", example_deer, "-o", tmp_path / "x.csv", "--level", "0.5")
    assert bad.returncode != 0 and "available: 0.8, 0.85, 0.9, 0.95" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1 and not (tmp_path / "x.csv").exists()


def test_batch_skips_a_bad_file_and_finishes_the_rest(example_deer, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for name in ("a", "b"):
        shutil.copy(example_deer, src / f"{name}.DTA")
        shutil.copy(example_deer.with_suffix(".DSC"), src / f"{name}.DSC")
    (src / "bad.DTA").write_bytes(b"\x89PNG not a spectrum")
    (src / "bad.DSC").write_text("garbage")
    res = mrml("deer", src / "a.DTA", src / "bad.DTA", src / "b.DTA", "--out", tmp_path / "out", "--json")
    assert res.returncode != 0
    assert (tmp_path / "out" / "a.csv").exists() and (tmp_path / "out" / "b.csv").exists()
    assert (tmp_path / "out" / "a.json").exists()
    assert not (tmp_path / "out" / "bad.csv").exists()
    assert "bad.DTA" in res.stderr and "Traceback" not in res.stderr
    report = json.loads(res.stdout)
    assert len(report["results"]) == 2 and len(report["failed"]) == 1


def _bad_inputs(tmp_path, example_deer):
    cases = {}
    d = tmp_path / "nodsc"
    d.mkdir()
    shutil.copy(example_deer, d / "x.DTA")
    cases["missing DSC"] = d / "x.DTA"
    d = tmp_path / "trunc"
    d.mkdir()
    shutil.copy(example_deer.with_suffix(".DSC"), d / "x.DSC")
    (d / "x.DTA").write_bytes(example_deer.read_bytes()[:1000])
    cases["truncated DTA"] = d / "x.DTA"
    d = tmp_path / "renamed"
    d.mkdir()
    (d / "x.DTA").write_text("this is a text file renamed .DTA\n1 2 3\n")
    (d / "x.DSC").write_bytes(bytes(range(256)) * 4)
    cases["not BES3T"] = d / "x.DTA"
    sp = read(example_deer)
    t = sp.axes[0].coords()
    v = np.array(sp.data)
    v[40] = np.nan
    write(tmp_path / "nan.DTA", Spectrum(v, (Axis("t", t.size, "time", "us", values=t),)))
    cases["NaN"] = tmp_path / "nan.DTA"
    write(tmp_path / "short.DTA", Spectrum(v[:5], (Axis("t", 5, "time", "us", values=t[:5]),)))
    cases["5 points"] = tmp_path / "short.DTA"
    write(tmp_path / "twod.DTA", Spectrum(np.ones((3, 50)), (Axis("y", 3), Axis("t", 50, "time", "us",
                                                                               values=np.linspace(0, 2, 50)))))
    cases["2D"] = tmp_path / "twod.DTA"
    cases["missing file"] = tmp_path / "nothing.DTA"
    return cases


def test_every_bad_input_gives_one_line_and_nonzero_exit(example_deer, tmp_path):
    for name, path in _bad_inputs(tmp_path, example_deer).items():
        res = mrml("deer", path, "-o", tmp_path / f"{name}.csv")
        assert res.returncode != 0, name
        lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1, (name, res.stderr)
        assert "Traceback" not in res.stderr and lines[0].startswith("mrml: error"), (name, res.stderr)
        assert not (tmp_path / f"{name}.csv").exists()


def test_real_bruker_trace_agrees_with_deerlab(realdata_deer, tmp_path):
    path = realdata_deer / "example_4pdeer_1.DTA"
    res = mrml("deer", path, "-o", tmp_path / "r.csv", "--json")
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert 2.0 < summary["r_mean_nm"] < 6.0 and 0.05 < summary["mod_depth"] < 0.8
    dl = pytest.importorskip("deerlab")
    t, v = dl.deerload(str(path))
    v = dl.correctphase(v)
    v = v / np.max(v)
    t = t - t[0] + 0.1  # timings from the DeerLab example for this file (SOURCE.md)
    # the usual range for the dipolar window T: 1.5 nm to 5 (T / 2 us)^(1/3) nm (benchmarks/_deer_common.py);
    # wider ranges let DeerLab's Tikhonov fit trade background against a long-distance tail
    r = np.arange(1.5, 5.0 * ((t[-1] - 0.1) / 2.0) ** (1 / 3) + 1e-9, 0.05)
    model = dl.dipolarmodel(t, r, Bmodel=dl.bg_hom3d, experiment=dl.ex_4pdeer(0.3, 4.0, pathways=[1]))
    fit = dl.fit(model, v, verbose=False)
    r_mean_deerlab = float(np.sum(r * fit.P) / np.sum(fit.P))
    assert abs(summary["r_mean_nm"] - r_mean_deerlab) < 0.2  # the goal


def test_help_does_not_import_torch():
    code = "import sys, mrml.cli; sys.exit(1 if 'torch' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
    res = mrml("--help")
    assert res.returncode == 0 and "deer" in res.stdout


def test_models_lists_the_shipped_card():
    res = mrml("models", "deernet", "--json")
    assert res.returncode == 0, res.stderr
    card = json.loads(res.stdout)
    assert card["training"]["command"].startswith("mrml train deernet")
    assert len(card["sha256"]) == 64 and card["size_bytes"] <= 10 * 2**20
    assert card["hparams"]["n_members"] >= 16
