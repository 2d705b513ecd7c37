"""The in-memory representation of one measured or simulated data set."""

from __future__ import annotations

import dataclasses
import types
from typing import Any, Mapping

import numpy as np

DOMAINS = ("time", "frequency", "q", "r", "index")


@dataclasses.dataclass(frozen=True)
class Axis:
    """One dimension of a :class:`Spectrum`.

    Parameters
    ----------
    label : str
        Axis label, e.g. ``"t"``, ``"1H"``, ``"15N"``, ``"q"``.
    size : int
        Number of points along the axis.
    domain : str
        One of ``time``, ``frequency``, ``q``, ``r`` or ``index``.
    unit : str
        Unit of :attr:`values` (``"us"``, ``"ppm"``, ``"1/A"``, ``"nm"``).
    values : numpy.ndarray, optional
        Explicit coordinates (needed for non-uniform axes such as sparse DEER).
    sw_hz, obs_mhz, car_hz : float, optional
        NMR spectral width, observe frequency and carrier.
    """

    label: str
    size: int
    domain: str = "index"
    unit: str = ""
    values: np.ndarray | None = None
    sw_hz: float | None = None
    obs_mhz: float | None = None
    car_hz: float | None = None

    def __post_init__(self):
        if self.domain not in DOMAINS:
            raise ValueError(f"unknown axis domain {self.domain!r}; expected one of {DOMAINS}")
        if self.values is not None:
            values = np.asarray(self.values, dtype=float).copy()
            values.setflags(write=False)
            if values.shape != (self.size,):
                raise ValueError(f"axis {self.label!r}: {values.shape[0]} values for size {self.size}")
            object.__setattr__(self, "values", values)

    def coords(self) -> np.ndarray:
        """Coordinates of every point (explicit values, else the point index)."""
        if self.values is not None:
            return self.values
        return np.arange(self.size, dtype=float)

    @property
    def is_uniform(self) -> bool:
        """True when the points are equally spaced."""
        c = self.coords()
        if c.size < 3:
            return True
        d = np.diff(c)
        return bool(np.allclose(d, d[0], rtol=1e-6, atol=1e-12 * max(1.0, abs(c).max())))

    def describe(self) -> dict:
        """A JSON-ready summary (label, points, domain, range in the axis unit)."""
        c = self.coords()
        out = {"label": self.label, "points": self.size, "domain": self.domain, "unit": self.unit}
        if c.size:
            out["min"] = float(c.min())
            out["max"] = float(c.max())
        out["uniform"] = self.is_uniform
        for key in ("sw_hz", "obs_mhz", "car_hz"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


@dataclasses.dataclass(frozen=True)
class Spectrum:
    """A data array with one :class:`Axis` per dimension, its raw header and provenance.

    Instances are immutable: methods return new spectra and the data array is
    read-only, so a stage can never change its input in place.
    """

    data: np.ndarray
    axes: tuple[Axis, ...]
    header: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    format: str = "array"
    source: str | None = None
    provenance: tuple[str, ...] = ()

    def __post_init__(self):
        data = np.array(self.data, copy=True)
        data.setflags(write=False)
        object.__setattr__(self, "data", data)
        axes = tuple(self.axes)
        if len(axes) != data.ndim:
            raise ValueError(f"{len(axes)} axes for a {data.ndim}-D array")
        for ax, n in zip(axes, data.shape):
            if ax.size != n:
                raise ValueError(f"axis {ax.label!r} has size {ax.size}, data has {n}")
        object.__setattr__(self, "axes", axes)
        object.__setattr__(self, "header", types.MappingProxyType(dict(self.header)))
        object.__setattr__(self, "provenance", tuple(self.provenance))

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    def replace(self, *, step: str | None = None, **changes) -> "Spectrum":
        """Return a copy with fields changed, appending ``step`` to the provenance."""
        if step is not None:
            changes["provenance"] = self.provenance + (step,)
        return dataclasses.replace(self, **changes)

    def describe(self) -> dict:
        """A JSON-ready summary used by ``mrml info``."""
        return {
            "format": self.format,
            "source": self.source,
            "shape": list(self.shape),
            "dtype": str(self.data.dtype),
            "complex": bool(np.iscomplexobj(self.data)),
            "axes": [ax.describe() for ax in self.axes],
        }
