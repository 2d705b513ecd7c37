"""Declaring a simulator's parameter space once.

A :class:`Param` holds name, unit, range, prior and description. Sampling,
validation, documentation and ``--set key=value`` overrides all come from the
same declaration.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Sequence

import numpy as np

PRIORS = ("uniform", "log-uniform", "fixed")


@dataclasses.dataclass(frozen=True)
class Param:
    """One sampled simulator parameter.

    Parameters
    ----------
    name : str
        Name, with its unit as suffix (``mean_nm``, ``t_max_us``).
    unit : str
        Unit in words (``"nm"``, ``"us"``, ``""`` for dimensionless).
    low, high : float
        Default sampling range (inclusive).
    prior : str
        ``uniform``, ``log-uniform`` or ``fixed`` (always ``low``).
    description : str
        One sentence for docs and ``--help``.
    """

    name: str
    unit: str
    low: float
    high: float
    prior: str = "uniform"
    description: str = ""

    def __post_init__(self):
        if self.prior not in PRIORS:
            raise ValueError(f"{self.name}: unknown prior {self.prior!r}")
        if self.high < self.low:
            raise ValueError(f"{self.name}: high {self.high} < low {self.low}")
        if self.prior == "log-uniform" and self.low <= 0:
            raise ValueError(f"{self.name}: log-uniform prior needs low > 0")

    def with_range(self, low: float, high: float) -> "Param":
        """Return a copy with a new range (checked)."""
        return dataclasses.replace(self, low=float(low), high=float(high))

    def sample(self, rng: np.random.Generator, size) -> np.ndarray:
        """Draw ``size`` values from the prior."""
        if self.prior == "fixed" or self.low == self.high:
            return np.full(size, self.low, dtype=float)
        if self.prior == "log-uniform":
            return np.exp(rng.uniform(np.log(self.low), np.log(self.high), size))
        return rng.uniform(self.low, self.high, size)

    def doc(self) -> str:
        """One line for documentation."""
        unit = f" [{self.unit}]" if self.unit else ""
        return f"{self.name}{unit}: {self.prior} in [{self.low:g}, {self.high:g}]. {self.description}"


def parse_value(text: str) -> Any:
    """Parse a ``--set`` value: number, range ``a,b``, boolean, or string list."""
    text = text.strip()
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    parts = [p.strip() for p in text.split(",")] if "," in text else [text]
    values = []
    for p in parts:
        try:
            values.append(int(p))
        except ValueError:
            try:
                values.append(float(p))
            except ValueError:
                values.append(p)
    return values[0] if len(values) == 1 else values


def merge_config(defaults: Mapping[str, Any], params: Sequence[Param], overrides: Mapping[str, Any]) -> dict:
    """Merge user overrides into a simulator's default config.

    A parameter range can be given as ``[low, high]`` or as one number (fixed);
    other settings keep their type. Unknown keys raise ``KeyError`` naming the valid ones.
    """
    config = {k: (list(v) if isinstance(v, tuple) else v) for k, v in defaults.items()}
    by_name = {p.name: p for p in params}
    for key, value in overrides.items():
        if key in by_name:
            lo_hi = value if isinstance(value, (list, tuple)) else [value, value]
            if len(lo_hi) != 2:
                raise ValueError(f"{key}: give one value or 'low,high'")
            lo, hi = (float(v) for v in lo_hi)
            by_name[key].with_range(lo, hi)  # validates
            config.setdefault("ranges", {})
            config["ranges"] = {**config["ranges"], key: [lo, hi]}
        elif key in config and key != "ranges":
            config[key] = value
        else:
            valid = sorted(set(by_name) | (set(config) - {"ranges"}))
            raise KeyError(f"unknown setting {key!r}; valid: {', '.join(valid)}")
    return config
