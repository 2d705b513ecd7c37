"""NUS schedule generators: counts, determinism, weighting."""

import numpy as np
import pytest

from simulators.nmr.schedules import exponential_random, poisson_gap


@pytest.mark.parametrize(("n_total", "n_sampled"), [(192, 24), (256, 64), (128, 48), (64, 64), (10, 1)])
def test_poisson_gap_has_exact_count_unique_sorted_indices_starting_at_zero(n_total, n_sampled):
    s = poisson_gap(n_total, n_sampled, rng=np.random.default_rng(0))
    assert s.shape == (n_sampled,)
    assert s[0] == 0 and np.all(np.diff(s) > 0) and s[-1] < n_total


def test_poisson_gap_is_seeded_and_sine_weighting_crowds_the_start():
    a = poisson_gap(256, 64, rng=np.random.default_rng(1))
    assert np.array_equal(a, poisson_gap(256, 64, rng=np.random.default_rng(1)))
    assert not np.array_equal(a, poisson_gap(256, 64, rng=np.random.default_rng(2)))
    first_half = [np.mean(poisson_gap(256, 64, rng=np.random.default_rng(k)) < 128) for k in range(20)]
    flat = [np.mean(poisson_gap(256, 64, rng=np.random.default_rng(k), weight="none") < 128) for k in range(20)]
    assert np.mean(first_half) > np.mean(flat) + 0.05
    # Poisson gaps: no long holes in a 25 % schedule (largest gap far below random sampling's)
    assert np.max(np.diff(a)) < 20


def test_exponential_random_one_and_two_dimensions():
    s = exponential_random(128, 32, rng=np.random.default_rng(3), decay=0.5)
    assert s.shape == (32,) and s[0] == 0 and len(np.unique(s)) == 32 and s.max() < 128
    assert np.mean(s < 64) > 0.6  # weighted towards the start
    s2 = exponential_random((40, 30), 300, rng=np.random.default_rng(3))
    assert s2.shape == (300, 2)
    assert len({tuple(r) for r in s2}) == 300
    assert tuple(s2[0]) == (0, 0) and s2[:, 0].max() < 40 and s2[:, 1].max() < 30


@pytest.mark.parametrize(("call", "message"), [
    (lambda: poisson_gap(100, 0, rng=np.random.default_rng()), "n_sampled"),
    (lambda: poisson_gap(100, 101, rng=np.random.default_rng()), "n_sampled"),
    (lambda: exponential_random((4, 4, 4), 8, rng=np.random.default_rng()), "one or two"),
])
def test_bad_requests_raise(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_poisson_gap_2d_exact_count_unique_pairs_crowded_near_the_origin():
    from simulators.nmr.schedules import poisson_gap_2d

    s = poisson_gap_2d((40, 32), 320, rng=np.random.default_rng(0))
    assert s.shape == (320, 2) and tuple(s[0]) == (0, 0)
    assert len({tuple(r) for r in s}) == 320 and s[:, 0].max() < 40 and s[:, 1].max() < 32
    near = np.mean((s[:, 0] < 20) & (s[:, 1] < 16))
    assert near > 0.25 + 0.05  # the near quarter of the grid holds more than a quarter of the points
    assert np.array_equal(s, poisson_gap_2d((40, 32), 320, rng=np.random.default_rng(0)))


def test_batched_poisson_gap_masks_match_single_schedules_in_distribution():
    from simulators.nmr.schedules import poisson_gap_masks

    rng = np.random.default_rng(4)
    want = rng.integers(10, 60, 300)
    masks = poisson_gap_masks(128, want, rng=rng)
    assert np.array_equal(masks.sum(axis=1), want) and masks[:, 0].all()
    batch = poisson_gap_masks(128, np.full(3000, 32), rng=rng).mean(axis=0)
    single = np.mean([np.isin(np.arange(128), poisson_gap(128, 32, rng=rng)) for _ in range(3000)], axis=0)
    assert np.abs(batch - single).max() < 0.05  # same sampling density along the time axis
    assert batch[:16].mean() > 1.5 * batch[-16:].mean()  # sine weighting: denser early


def test_poisson_gap_2d_with_fewer_pairs_than_rows():
    """Each row of the 2D generator starts with its first point; fewer pairs than rows still gives the count."""
    from simulators.nmr.schedules import poisson_gap_2d

    pairs = poisson_gap_2d((12, 8), 6, rng=np.random.default_rng(0))
    assert len(pairs) == 6 and len(np.unique(pairs, axis=0)) == 6 and pairs[0].tolist() == [0, 0]
