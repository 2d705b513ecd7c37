"""``mrml simulate``: resume after SIGKILL, a dask.distributed cluster, refusals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from mrml.cli import main
from mrml.errors import InputError
from mrml.store import open_store, status, write_store
from tests.test_store import assert_stores_equal

CLI = [sys.executable, "-m", "mrml.cli", "simulate"]
#: Local scheduler (threads start at once; the default is processes without threadpoolctl).
LOCAL = "threads"


def run_cli(*args, timeout=120):
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=timeout)


def assert_one_line_error(result, *needles):
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("mrml: error:") and "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_resume_after_sigkill_is_bit_identical(tmp_path):
    n, chunk, seed = 2000, 100, 11  # 20 small chunks (~0.1 s each): killed after the first few
    killed = tmp_path / "killed.zarr"
    args = ["deer", "--n", n, "--chunk", chunk, "--seed", seed, "--out", killed, "--no-progress",
            "--scheduler", LOCAL]
    proc = subprocess.Popen([*CLI, *map(str, args)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if status(killed)["done"] >= 2:
                    break
            except InputError:  # not created yet
                pass
            time.sleep(0.005)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed; make it larger"
    at_kill = status(killed)
    assert 0 < at_kill["done"] < at_kill["total"] and not at_kill["complete"]

    result = run_cli(*args, "--resume", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["chunks_skipped"] == at_kill["done"]
    assert summary["chunks_written"] == at_kill["total"] - at_kill["done"] and summary["complete"]

    reference = tmp_path / "reference.zarr"
    write_store(reference, "deer", n=n, chunk=chunk, seed=seed, progress=False, scheduler=LOCAL)
    assert_stores_equal(killed, reference)


def _children(pid: int) -> set[int]:
    """PIDs whose parent is ``pid`` (Linux /proc)."""
    kids = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                kids.add(int(entry))
    return kids


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc")
def test_worker_processes_end_with_a_killed_run_and_resume_is_bit_identical(tmp_path):
    n, chunk, seed = 6000, 200, 5  # 30 chunks in 2 worker processes
    killed = tmp_path / "killed.zarr"
    args = ["deer", "--n", n, "--chunk", chunk, "--seed", seed, "--out", killed, "--no-progress",
            "--scheduler", "processes", "--workers", 2]
    proc = subprocess.Popen([*CLI, *map(str, args)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            workers |= _children(proc.pid)
            try:
                if status(killed)["done"] >= 2:
                    break
            except InputError:
                pass
            time.sleep(0.01)
        workers |= _children(proc.pid)
        proc.kill()  # the parent only, as a crash or the OOM killer would
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed; make it larger"
    assert workers, "no worker processes seen"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(os.path.exists(f"/proc/{w}") for w in workers):
        time.sleep(0.2)
    alive = [w for w in workers if os.path.exists(f"/proc/{w}")]
    for w in alive:  # do not leave them behind even when the test fails
        os.kill(w, signal.SIGKILL)
    assert not alive, f"worker processes {alive} outlived the killed run"

    result = run_cli(*args, "--resume", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["complete"]
    reference = tmp_path / "reference.zarr"
    write_store(reference, "deer", n=n, chunk=chunk, seed=seed, progress=False, scheduler=LOCAL)
    assert_stores_equal(killed, reference)


def test_distributed_cluster_matches_local(tmp_path):
    distributed = pytest.importorskip("distributed")
    n, chunk, seed = 600, 100, 3
    local = tmp_path / "local.zarr"
    write_store(local, "deer", n=n, chunk=chunk, seed=seed, progress=False, scheduler=LOCAL)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=50) as cluster:
        remote = tmp_path / "remote.zarr"
        result = CliRunner().invoke(main, ["simulate", "deer", "--n", str(n), "--chunk", str(chunk), "--seed",
                                           str(seed), "--out", str(remote), "--scheduler", cluster.scheduler_address,
                                           "--json", "--no-progress"])
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout)
        assert summary["scheduler"] == cluster.scheduler_address and summary["chunks_written"] == 6
        # the library entry point, on the same cluster, resuming a half-written store
        half = tmp_path / "half.zarr"
        write_store(half, "deer", n=n, chunk=chunk, seed=seed, progress=False, scheduler=LOCAL)
        store = open_store(half, mode="r+")
        store.group["manifest/done"][::2] = 0
        summary = write_store(half, "deer", n=n, chunk=chunk, seed=seed, resume=True,
                              scheduler=cluster.scheduler_address, progress=False)
        assert (summary["chunks_written"], summary["chunks_skipped"]) == (3, 3)
    assert_stores_equal(local, remote)
    assert_stores_equal(local, half)


def test_refusals_are_one_line(tmp_path):
    out = tmp_path / "s.zarr"
    write_store(out, "deer", n=200, chunk=100, progress=False, scheduler=LOCAL)

    assert_one_line_error(run_cli("deer", "--n", 200, "--chunk", 100, "--out", out),
                          "exists", "--overwrite")
    assert_one_line_error(run_cli("deer", "--n", 200, "--chunk", 100, "--out", out, "--resume", "--seed", 9),
                          "cannot resume", "seed differs (store 0, requested 9)")
    assert_one_line_error(run_cli("deer", "--n", 200, "--out", tmp_path / "t.zarr", "--set", "bogus=1"),
                          "unknown setting 'bogus'")
    assert not (tmp_path / "t.zarr").exists()
    assert_one_line_error(run_cli("deer", "--n", 200, "--out", tmp_path / "t.zarr", "--set", "n_points"),
                          "--set expects KEY=VALUE")


def test_help_has_examples():
    result = CliRunner().invoke(main, ["simulate", "--help"])
    assert result.exit_code == 0
    assert "Examples:" in result.output and "--resume" in result.output and "--scheduler" in result.output


def test_set_overrides_reach_the_store(tmp_path):
    out = tmp_path / "o.zarr"
    result = CliRunner().invoke(main, ["simulate", "deer", "--n", "64", "--out", str(out), "--set", "n_points=64",
                                       "--set", "mod_depth=0.2,0.4", "--set", "complex=false",
                                       "--scheduler", LOCAL, "--json"])
    assert result.exit_code == 0, result.output
    store = open_store(out)
    assert store.config["n_points"] == 64 and store.config["ranges"]["mod_depth"] == [0.2, 0.4]
    assert store["x"].shape == (64, 64) and store["x"].dtype == "float32"
    depth = store["params/mod_depth"][:]
    assert depth.min() >= 0.2 and depth.max() <= 0.4
