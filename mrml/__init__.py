"""mrml: machine learning for magnetic-resonance and small-angle scattering data.

Heavy dependencies (torch, dask, zarr, matplotlib) are imported lazily by the
modules that need them, so ``import mrml`` and ``mrml --help`` stay fast.
"""

from mrml.errors import DataError, InputError, MrmlError, MrmlWarning
from mrml.spectrum import Axis, Spectrum

__all__ = ["Axis", "Spectrum", "MrmlError", "InputError", "DataError", "MrmlWarning"]
__version__ = "0.1.0"
