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
