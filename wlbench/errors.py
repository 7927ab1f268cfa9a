"""The one error type for every expected failure.

A :class:`WlbenchError` message names the file, field or row at fault and says how to fix it. The CLI
prints it on one line and exits with status 2, without a traceback.
"""

from __future__ import annotations


class WlbenchError(Exception):
    """An expected failure caused by input (recipe, soundbank, submission, dataset, arguments)."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.hint = hint
        super().__init__(message if hint is None else f"{message} ({hint})")


def plain(value: object) -> str:
    """A value as a message shows it: numbers plainly (``-0.2``, ``3``, ``nan``; never numpy's
    ``np.float64(-0.2)``), strings quoted, anything else as ``repr``."""
    import numbers

    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return repr(float(value))
    if hasattr(value, "dtype") and getattr(value, "shape", None) == ():  # a 0-d array
        return plain(value.item())  # type: ignore[attr-defined]
    return repr(value)
