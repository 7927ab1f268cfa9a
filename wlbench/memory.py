"""The memory guard: refuse, before the work, what this machine cannot allocate.

A size given on the command line (``plan --clips``, a network's ``filters``) is turned into an estimate of
the bytes it needs by the command that knows its cost; :func:`check_memory` compares it with the memory
available now and refuses it in one :class:`WlbenchError` naming the estimate, the memory and the fix,
instead of a ``MemoryError`` traceback (or the kernel killing the process) after minutes of work.
"""

from __future__ import annotations

import os

from wlbench.errors import WlbenchError


def available_memory() -> int:
    """Bytes of memory available to a new allocation now (``MemAvailable`` of /proc/meminfo; elsewhere the
    free physical pages), or the total physical memory when neither is known."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    for name in ("SC_AVPHYS_PAGES", "SC_PHYS_PAGES"):
        try:
            return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf(name))
        except (OSError, ValueError, AttributeError):
            continue
    return 2 ** 63 - 1


def check_memory(needed: float, what: str, *, hint: str) -> None:
    """Refuse ``what`` (e.g. ``"--clips 1000000000000"``) when its estimated ``needed`` bytes exceed the
    memory available now."""
    from wlbench.atomic import human_bytes

    available = available_memory()
    if needed > available:
        raise WlbenchError(f"{what} needs about {human_bytes(needed)} of memory, and this machine has "
                           f"{human_bytes(available)} available", hint=hint)
