"""Shared fixtures: paths to the shipped example data and to ../shared/realdata."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REALDATA = ROOT.parent / "shared" / "realdata"


@pytest.fixture(scope="session")
def example_deer():
    return ROOT / "data" / "example_deer.DTA"


@pytest.fixture(scope="session")
def realdata_deer():
    d = REALDATA / "deer"
    if not d.is_dir():
        pytest.skip("../shared/realdata/deer is not present")
    return d
