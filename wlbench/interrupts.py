"""Turn Ctrl-C (SIGINT) and SIGTERM into a clean stop at a safe point of a long loop.

Python's default handler raises KeyboardInterrupt wherever the main thread happens to be, including
inside destructors and callbacks where it is silently ignored. Inside :func:`deferred_interrupts` the
signal only sets a flag; the loop calls ``check()`` between work items, which raises KeyboardInterrupt
there, so the atomic writers' cleanup runs. A second signal raises at once.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[Callable[[], None]]:
    """Yield ``check()``, which raises KeyboardInterrupt once SIGINT or SIGTERM has arrived."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: None
        return
    received: list[int] = []

    def handler(signum, frame):  # noqa: ARG001 - signal handler signature
        if received:
            raise KeyboardInterrupt
        received.append(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}

    def check() -> None:
        if received:
            raise KeyboardInterrupt

    try:
        yield check
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
