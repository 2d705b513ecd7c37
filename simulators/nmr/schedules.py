"""Non-uniform sampling (NUS) schedules for the indirect dimensions of NMR experiments.

A schedule lists the sampled complex points of the indirect time domain as
0-based indices, in acquisition order: shape ``(n_sampled,)`` for one indirect
dimension (2D experiments) or ``(n_sampled, 2)`` for two (3D). Every generator
includes the first point (index 0, or (0, 0)), which carries the most signal
and fixes the phase, and draws from an explicit :class:`numpy.random.Generator`.

- :func:`poisson_gap`: sine-weighted Poisson-gap sampling (Hyberts, Takeuchi
  and Wagner, J. Am. Chem. Soc. 2010): gaps between sampled points are Poisson
  distributed with a mean that grows along the time axis, which keeps large
  gaps rare and gives low reconstruction artefacts.
- :func:`poisson_gap_2d`: the same for two indirect dimensions (3D experiments):
  Poisson gaps along each row of the (n1, n2) grid, their mean growing with the
  distance from the grid origin, so the points crowd where both times are short.
- :func:`exponential_random`: random sampling without repeats, weighted by
  ``exp(-t / (decay * t_max))`` (matched to a decaying signal); 1D or 2D.
"""

from __future__ import annotations

import numpy as np

#: Relative change of the Poisson rate per adjustment in :func:`poisson_gap`.
_RATE_STEP = 1.02
_MAX_TRIES = 20000


def _check_counts(n_total: int, n_sampled: int) -> tuple[int, int]:
    n_total, n_sampled = int(n_total), int(n_sampled)
    if n_total < 1:
        raise ValueError(f"n_total must be at least 1, got {n_total}")
    if not 1 <= n_sampled <= n_total:
        raise ValueError(f"n_sampled must be between 1 and n_total ({n_total}), got {n_sampled}")
    return n_total, n_sampled


def poisson_gap(n_total: int, n_sampled: int, *, rng: np.random.Generator, weight: str = "sine") -> np.ndarray:
    """Sine-weighted Poisson-gap schedule of one indirect dimension.

    Parameters
    ----------
    n_total : int
        Complex points of the fully sampled indirect time domain.
    n_sampled : int
        Points to sample (``n_total`` gives the uniform schedule).
    rng : numpy.random.Generator
        Source of randomness.
    weight : {"sine", "none"}
        Gap weighting along the time axis: ``sine`` (``sin(pi/2 * t / t_max)``,
        small gaps early where the signal is strong) or ``none`` (uniform Poisson gaps).

    Returns
    -------
    numpy.ndarray of int64, shape (n_sampled,)
        Sorted indices, starting with 0.
    """
    n_total, n_sampled = _check_counts(n_total, n_sampled)
    if weight not in ("sine", "none"):
        raise ValueError(f"weight must be 'sine' or 'none', got {weight!r}")
    if n_sampled == n_total:
        return np.arange(n_total, dtype=np.int64)
    pos = (np.arange(n_total) + 0.5) / (n_total + 1)
    shape = np.sin(0.5 * np.pi * pos) if weight == "sine" else np.ones(n_total)
    rate = n_total / n_sampled - 1.0
    best = None
    for _ in range(_MAX_TRIES):
        gaps = rng.poisson(rate * shape)  # one draw per possible position; used along the walk
        picked = []
        i = 0
        while i < n_total:
            picked.append(i)
            i += 1 + int(gaps[i])
        if len(picked) == n_sampled:
            return np.asarray(picked, dtype=np.int64)
        if best is None or abs(len(picked) - n_sampled) < abs(len(best) - n_sampled):
            best = picked
        rate = rate * _RATE_STEP if len(picked) > n_sampled else rate / _RATE_STEP
    return _fix_count(np.asarray(best, dtype=np.int64), n_total, n_sampled, rng)


def poisson_gap_masks(n_total: int, n_sampled, *, rng: np.random.Generator) -> np.ndarray:
    """Many sine-weighted Poisson-gap schedules at once, as sampling masks (training data).

    The same procedure as :func:`poisson_gap` (walks over Poisson gaps whose
    rate is adjusted until a walk takes exactly ``n_sampled`` points), run for a
    whole batch of schedules as array operations: every try advances all
    unfinished walks together.

    Parameters
    ----------
    n_total : int
        Complex points of the fully sampled indirect time domain.
    n_sampled : array_like of int, shape (m,)
        Points to sample in each schedule.
    rng : numpy.random.Generator

    Returns
    -------
    numpy.ndarray of bool, shape (m, n_total)
        ``True`` at the sampled points; every row has ``mask[0]`` and ``n_sampled[i]`` points.
    """
    n_total = int(n_total)
    want = np.asarray(n_sampled, dtype=np.int64).ravel()
    for k in np.unique(want):
        _check_counts(n_total, int(k))
    m = want.size
    pos = (np.arange(n_total) + 0.5) / (n_total + 1)
    shape = np.sin(0.5 * np.pi * pos)
    rate = n_total / want - 1.0
    masks = np.zeros((m, n_total), dtype=bool)
    todo = np.flatnonzero(want < n_total)
    masks[want == n_total] = True
    for _ in range(_MAX_TRIES // 10):
        if todo.size == 0:
            break
        gaps = rng.poisson(rate[todo, None] * shape[None, :])
        nxt = np.arange(n_total)[None, :] + 1 + gaps  # where each walk goes from each point
        cur = np.zeros(todo.size, dtype=np.int64)
        trial = np.zeros((todo.size, n_total), dtype=bool)
        rows = np.arange(todo.size)
        alive = np.ones(todo.size, dtype=bool)
        while alive.any():
            trial[rows[alive], cur[alive]] = True
            cur[alive] = nxt[rows[alive], cur[alive]]
            alive &= cur < n_total
        count = trial.sum(axis=1)
        ok = count == want[todo]
        masks[todo[ok]] = trial[ok]
        rate[todo] = np.where(count > want[todo], rate[todo] * _RATE_STEP, rate[todo] / _RATE_STEP)
        todo = todo[~ok]
    for i in todo:  # rarely reached: the single-schedule fallback
        masks[i, poisson_gap(n_total, int(want[i]), rng=rng)] = True
    return masks


def poisson_gap_2d(shape, n_sampled: int, *, rng: np.random.Generator) -> np.ndarray:
    """Sine-weighted Poisson-gap schedule on a grid of two indirect dimensions.

    Parameters
    ----------
    shape : tuple of int
        ``(n1, n2)`` complex points of the two fully sampled indirect dimensions.
    n_sampled : int
        Pairs to sample.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    numpy.ndarray of int64, shape (n_sampled, 2)
        Index pairs sorted by the first then the second dimension, starting with (0, 0).
    """
    n1, n2 = (int(v) for v in shape)
    n_total, n_sampled = _check_counts(n1 * n2, n_sampled)
    if n_sampled == n_total:
        return np.stack(np.unravel_index(np.arange(n_total), (n1, n2)), axis=1).astype(np.int64)
    u1 = (np.arange(n1) + 0.5) / (n1 + 1)
    u2 = (np.arange(n2) + 0.5) / (n2 + 1)
    radius = np.minimum(np.hypot(u1[:, None], u2[None, :]) / np.sqrt(2.0), 1.0)
    shape_w = np.sin(0.5 * np.pi * radius)  # (n1, n2) gap scale, small near (0, 0)
    rate = n_total / n_sampled - 1.0
    best = None
    for _ in range(_MAX_TRIES):
        gaps = rng.poisson(rate * shape_w)
        picked = []
        for i in range(n1):
            j = 0
            while j < n2:
                picked.append(i * n2 + j)
                j += 1 + int(gaps[i, j])
        if len(picked) == n_sampled:
            flat = np.asarray(picked, dtype=np.int64)
            break
        if best is None or abs(len(picked) - n_sampled) < abs(len(best) - n_sampled):
            best = picked
        if len(picked) > n_sampled and rate >= n_total:  # every row takes its first point: out of reach
            flat = _fix_count(np.asarray(best, dtype=np.int64), n_total, n_sampled, rng)
            break
        rate = rate * _RATE_STEP if len(picked) > n_sampled else rate / _RATE_STEP
    else:
        flat = _fix_count(np.asarray(best, dtype=np.int64), n_total, n_sampled, rng)
    return np.stack(np.unravel_index(np.sort(flat), (n1, n2)), axis=1).astype(np.int64)


def _fix_count(picked: np.ndarray, n_total: int, n_sampled: int, rng: np.random.Generator) -> np.ndarray:
    """Drop or add random points (never index 0) to reach exactly ``n_sampled`` (rarely needed)."""
    if picked.size > n_sampled:
        keep = rng.choice(np.arange(1, picked.size), n_sampled - 1, replace=False)
        return np.sort(np.concatenate([[0], picked[keep]])).astype(np.int64)
    free = np.setdiff1d(np.arange(n_total), picked)
    extra = rng.choice(free, n_sampled - picked.size, replace=False)
    return np.sort(np.concatenate([picked, extra])).astype(np.int64)


def exponential_random(shape, n_sampled: int, *, rng: np.random.Generator, decay: float = 0.5) -> np.ndarray:
    """Exponentially weighted random schedule for one or two indirect dimensions.

    Parameters
    ----------
    shape : int or tuple of int
        Complex points of the fully sampled indirect dimension(s): ``n1`` or ``(n1, n2)``.
    n_sampled : int
        Points (or pairs) to sample.
    rng : numpy.random.Generator
        Source of randomness.
    decay : float
        Weight ``exp(-sum_k t_k / (decay * t_max_k))``: smaller values crowd the
        samples towards the start (match it to the signal's decay over the window).

    Returns
    -------
    numpy.ndarray of int64
        ``(n_sampled,)`` sorted indices, or ``(n_sampled, 2)`` index pairs sorted
        by the first then the second dimension; always contains the first point.
    """
    dims = (int(shape),) if np.isscalar(shape) else tuple(int(s) for s in shape)
    if len(dims) not in (1, 2):
        raise ValueError(f"schedules cover one or two indirect dimensions, got shape {dims}")
    if decay <= 0:
        raise ValueError(f"decay must be positive, got {decay}")
    n_total, n_sampled = _check_counts(int(np.prod(dims)), n_sampled)
    grids = np.meshgrid(*[np.arange(d) / max(d - 1, 1) for d in dims], indexing="ij")
    w = np.exp(-sum(grids) / decay).ravel()
    w[0] = 0.0  # the first point is always taken
    rest = rng.choice(np.arange(n_total), n_sampled - 1, replace=False, p=w / w.sum()) if n_sampled > 1 else []
    flat = np.sort(np.concatenate([[0], rest]).astype(np.int64))
    if len(dims) == 1:
        return flat
    return np.stack(np.unravel_index(flat, dims), axis=1).astype(np.int64)


def nus_config(defaults, params, config) -> dict:
    """A NUS simulator's config: defaults merged with a stored ``config``, ranges and schedule kinds checked."""
    from simulators.params import merge_config

    merged = merge_config(defaults, params, {}) if config is None else {**defaults, **dict(config)}
    merged["ranges"] = {k: list(v) for k, v in dict(merged.get("ranges") or {}).items()}
    unknown = set(merged["ranges"]) - {p.name for p in params}
    if unknown:
        raise KeyError(f"unknown parameter range(s): {sorted(unknown)}")
    bad = set(merged["schedules"]) - {"poisson-gap", "exponential"}
    if bad or not merged["schedules"]:
        raise ValueError(f"schedules must be a non-empty subset of poisson-gap, exponential; got {bad}")
    return merged
