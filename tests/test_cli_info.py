"""``mrml info``: real files succeed; every bad input is one line on stderr, no traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from mrml.cli import main

REALDATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "realdata" / "deer"
EX1 = REALDATA / "example_4pdeer_1.DTA"
needs_realdata = pytest.mark.skipif(not EX1.exists(), reason="shared/realdata/deer not present")

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00" + bytes(range(256))
GOOD_DSC = "#DESC\t1.2\nBSEQ\tBIG\nIKKF\tREAL\nIRFMT\tD\nXTYP\t{xtyp}\nXPTS\t8\nXMIN\t0\nXWID\t56\n#SPL\t1.2\n"


def run_info(*args):
    result = CliRunner().invoke(main, ["info", *map(str, args)])
    return result.exit_code, result.stdout, result.stderr


@needs_realdata
def test_info_real_file_text():
    code, out, err = run_info(EX1)
    assert code == 0, err
    assert "bes3t" in out and "(263,)" in out and "complex128" in out
    assert "0 .. 4.192 us" in out
    assert "assumed ns" in out


@needs_realdata
def test_info_real_file_json():
    code, out, _ = run_info(EX1, "--json")
    assert code == 0
    desc = json.loads(out)
    assert desc["format"] == "bes3t" and desc["shape"] == [263] and desc["complex"] is True
    (ax,) = desc["axes"]
    assert (ax["domain"], ax["unit"], ax["points"]) == ("time", "us", 263)
    assert ax["max"] == pytest.approx(4.192)


@needs_realdata
@pytest.mark.parametrize(
    "name", ["test_data_2d.DSC", "experimental_sparse_ptbp1_4pdeer.DTA", "example_droplets_data_1.npy"]
)
def test_info_other_real_files(name):
    if not (REALDATA / name).exists():
        pytest.skip(f"{name} not present")
    code, out, err = run_info(REALDATA / name)
    assert code == 0, err


def bad_inputs(tmp: Path) -> dict[str, Path]:
    """One file (or stem) per kind of bad input."""
    cases = {}
    (tmp / "lonely.DTA").write_bytes(np.zeros(8, ">f8").tobytes())
    cases["missing .DSC"] = tmp / "lonely.DTA"

    (tmp / "short.DSC").write_text(GOOD_DSC.format(xtyp="IDX"))
    (tmp / "short.DTA").write_bytes(np.zeros(5, ">f8").tobytes())
    cases["truncated .DTA"] = tmp / "short.DTA"

    (tmp / "png.DSC").write_bytes(PNG[::-1])
    (tmp / "png.DTA").write_bytes(PNG)
    cases["PNG renamed .DTA, garbage DSC"] = tmp / "png.DTA"

    (tmp / "txt.DSC").write_text("hello\nworld\n")
    (tmp / "txt.DTA").write_text("1 2\n3 4\n")
    cases["text renamed .DTA, garbage DSC"] = tmp / "txt.DTA"

    (tmp / "igd.DSC").write_text(GOOD_DSC.format(xtyp="IGD"))
    (tmp / "igd.DTA").write_bytes(np.zeros(8, ">f8").tobytes())
    cases["XGF missing"] = tmp / "igd.DTA"

    (tmp / "ragged.txt").write_text("0 1\n1 2 3\n")
    cases["ragged text"] = tmp / "ragged.txt"
    (tmp / "empty.csv").write_text("")
    cases["empty text"] = tmp / "empty.csv"
    (tmp / "bad.npy").write_bytes(PNG)
    cases["not npy"] = tmp / "bad.npy"
    (tmp / "a.xyz").write_text("1 2\n")
    cases["unknown suffix"] = tmp / "a.xyz"
    cases["missing file"] = tmp / "nothing.txt"
    return cases


CASES = [
    "missing .DSC", "truncated .DTA", "PNG renamed .DTA, garbage DSC", "text renamed .DTA, garbage DSC",
    "XGF missing", "ragged text", "empty text", "not npy", "unknown suffix", "missing file",
]  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_info_bad_input_is_one_line(tmp_path, case):
    path = bad_inputs(tmp_path)[case]
    code, out, err = run_info(path)
    assert code != 0
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("mrml: error: ")
    assert "Traceback" not in err


@pytest.mark.parametrize("case", ["truncated .DTA", "PNG renamed .DTA, garbage DSC", "missing .DSC"])
def test_info_bad_input_real_entry_point(tmp_path, case):
    path = bad_inputs(tmp_path)[case]
    proc = subprocess.run([sys.executable, "-m", "mrml.cli", "info", str(path)], capture_output=True, text=True)
    assert proc.returncode != 0
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "Traceback" not in proc.stderr


@needs_realdata
def test_info_does_not_import_torch():
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "mrml.cli", "info", str(EX1)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert "torch" not in proc.stderr


@needs_realdata
def test_info_leaves_input_unchanged():
    files = sorted(REALDATA.glob("example_4pdeer_1.*"))
    before = [(f.read_bytes(), f.stat().st_mtime_ns) for f in files]
    assert run_info(EX1)[0] == 0
    assert [(f.read_bytes(), f.stat().st_mtime_ns) for f in files] == before


def test_info_describes_a_training_store(tmp_path):
    import json
    import subprocess
    import sys

    from mrml.store import write_store

    write_store(tmp_path / "s.zarr", "nus", n=10, chunk=5, seed=4, progress=False, scheduler="sync")
    res = subprocess.run([sys.executable, "-m", "mrml.cli", "info", str(tmp_path / "s.zarr"), "--json"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    desc = json.loads(res.stdout)
    assert desc["simulator"] == "nus" and desc["n"] == 10 and desc["complete"] and desc["seed"] == 4
    assert desc["arrays"]["mask"]["shape"] == [128]
