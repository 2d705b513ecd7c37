"""Physics simulators that generate mrml's training data.

Pure numpy/scipy: nothing here imports torch, zarr or the CLI. Each simulator
declares its parameter space once and generates a batch from an explicit
:class:`numpy.random.Generator`.
"""

from simulators.deer import DeerSimulator
from simulators.nmr.nus import NusSimulator
from simulators.nmr.nus3d import Nus3dSimulator
from simulators.nmr.spectra import SpectrumSimulator

#: Simulator classes by the KIND name used on the command line.
REGISTRY = {"deer": DeerSimulator, "nus": NusSimulator, "nus3d": Nus3dSimulator,
            **{kind: SpectrumSimulator.factory(kind) for kind in ("hsqc", "methyl", "hnca", "hncoca")}}


def get_simulator(kind: str, config=None, *, overrides=None):
    """Instantiate the simulator registered as ``kind``.

    Parameters
    ----------
    kind : str
        A key of :data:`REGISTRY`.
    config : mapping, optional
        A full stored config (e.g. from a store's attributes).
    overrides : mapping, optional
        ``--set`` style overrides of the defaults (ignored if ``config`` given).
    """
    try:
        cls = REGISTRY[kind]
    except KeyError:
        raise KeyError(f"unknown simulator {kind!r}; available: {', '.join(sorted(REGISTRY))}") from None
    if config is not None:
        return cls(config)
    return cls.from_overrides(overrides or {})


__all__ = ["REGISTRY", "DeerSimulator", "Nus3dSimulator", "NusSimulator", "get_simulator"]
