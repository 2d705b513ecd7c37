"""The project's error and warning types.

Every failure a user can cause (bad file, bad option, bad data) raises
:class:`MrmlError` with a one-line message; the CLI prints that line and exits
non-zero. Anything else is a bug and keeps its traceback.
"""


class MrmlError(Exception):
    """A user-facing error: one line, no traceback."""


class InputError(MrmlError):
    """An input file is missing, unreadable, truncated or of the wrong kind."""


class DataError(MrmlError):
    """The data were read but cannot be analysed (NaNs, too short, wrong dimensionality)."""


class MrmlWarning(UserWarning):
    """A result was produced but should be read with care."""
