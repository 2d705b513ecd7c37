"""Reading, validating and writing NUS schedule files."""

import numpy as np
import pytest

from mrml.errors import InputError
from mrml.io.schedule import read_schedule, validate_schedule, write_schedule
from simulators.nmr.schedules import exponential_random, poisson_gap
from tests.conftest import REALDATA


def test_round_trip_one_and_two_columns(tmp_path):
    s1 = poisson_gap(192, 24, rng=np.random.default_rng(0))
    write_schedule(tmp_path / "ss.out", s1)
    assert np.array_equal(read_schedule(tmp_path / "ss.out"), s1)
    s2 = exponential_random((32, 24), 100, rng=np.random.default_rng(0))
    write_schedule(tmp_path / "nuslist", s2)
    assert np.array_equal(read_schedule(tmp_path / "nuslist"), s2)
    with pytest.raises(InputError, match="exists"):
        write_schedule(tmp_path / "ss.out", s1, overwrite=False)


def test_reads_fidnet_example_schedule():
    path = REALDATA / "nmr" / "nus" / "ss_hdac.out"
    if not path.exists():
        pytest.skip("real data not present")
    s = read_schedule(path)
    assert s.shape == (24,) and s[0] == 0 and s.max() == 187
    validate_schedule(s, shape=192)


@pytest.mark.parametrize(("text", "message"), [
    ("0\n1\nx\n", "not a list of integer"),
    ("0\n-1\n", "negative"),
    ("0\n3\n3\n", "more than once"),
    ("0 1\n2\n", "different numbers of columns"),
    ("# only a comment\n\n", "no sampled points"),
])
def test_bad_schedule_files(tmp_path, text, message):
    p = tmp_path / "bad.out"
    p.write_text(text)
    with pytest.raises(InputError, match=message):
        read_schedule(p)


def test_validation_against_the_data_shape():
    s = np.array([0, 2, 5])
    validate_schedule(s, shape=6)
    with pytest.raises(InputError, match="beyond the 5 complex points"):
        validate_schedule(s, shape=5)
    with pytest.raises(InputError, match="indirect dimension"):
        validate_schedule(s, shape=(6, 4))
    with pytest.raises(InputError, match="not found"):
        read_schedule("/nonexistent/ss.out")
