"""Every registered simulator honours the same contract: declared shapes and dtypes, determinism under a
seed, different seeds differ, parameters declared once, and its batches go through a store."""

import numpy as np
import pytest

from simulators import REGISTRY, get_simulator

KINDS = sorted(REGISTRY)


@pytest.mark.parametrize("kind", KINDS)
def test_batches_match_the_declared_array_specs(kind):
    sim = get_simulator(kind)
    out = sim.simulate(12, np.random.default_rng(0))
    specs = sim.array_specs()
    assert set(out) == set(specs)
    for name, (shape, dtype) in specs.items():
        assert out[name].shape == (12, *shape), name
        assert out[name].dtype == np.dtype(dtype), name
        assert np.all(np.isfinite(out[name])), name


@pytest.mark.parametrize("kind", KINDS)
def test_same_seed_same_batch_other_seed_differs(kind):
    sim = get_simulator(kind)
    a, b, c = (sim.simulate(8, np.random.default_rng(s)) for s in (5, 5, 6))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    first = next(iter(sim.array_specs()))
    assert not np.array_equal(a[first], c[first])


@pytest.mark.parametrize("kind", KINDS)
def test_parameters_are_declared_once_and_settable(kind):
    sim = get_simulator(kind)
    names = [p.name for p in sim.params]
    assert len(names) == len(set(names))
    p = sim.params[0]
    narrowed = get_simulator(kind, overrides={p.name: [p.low, p.low]})
    assert narrowed.config["ranges"][p.name] == [p.low, p.low]
    with pytest.raises(KeyError, match="unknown setting"):
        get_simulator(kind, overrides={"no_such_setting": 1})


@pytest.mark.parametrize("kind", KINDS)
def test_store_round_trip(kind, tmp_path):
    from mrml.store import open_store, read_chunk, write_store

    write_store(tmp_path / "s.zarr", kind, n=20, chunk=8, seed=3, progress=False, scheduler="sync")
    info = open_store(tmp_path / "s.zarr")
    assert info.complete and info.n == 20 and info.simulator == kind
    direct = get_simulator(kind, info.config).simulate(8, np.random.default_rng([3, 1]))
    stored = read_chunk(tmp_path / "s.zarr", 1)
    assert all(np.array_equal(stored[k], direct[k]) for k in direct)
