"""Process settings that make CPU training faster without changing any number it computes."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys

# glibc mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD = 1 << 30  # 1 GiB: every conv buffer of a 10 s batch comes from the heap
_TRIM_THRESHOLD = (1 << 31) - 1  # the largest int: never give the heap's top back to the OS


@functools.lru_cache(maxsize=1)
def tune_malloc_for_training() -> bool:
    """Keep large buffers in glibc's heap instead of mapping and unmapping them for every allocation.

    Torch's CPU convolutions on 10 s inputs allocate buffers of tens of MB per step; by default glibc serves
    each with ``mmap`` and returns it with ``munmap``, and the page faults that follow take a third to a
    half of the training time. This is the in-process equivalent of
    ``GLIBC_TUNABLES=glibc.malloc.mmap_threshold=...:glibc.malloc.trim_threshold=...`` (measured the same
    speed, docs/baselines.md). It changes where memory comes from, never a computed value. Returns True when
    applied (Linux with glibc), False elsewhere. Applied once per process.
    """
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c") or "libc.so.6"
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and other C libraries have no mallopt
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD))
