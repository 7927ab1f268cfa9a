"""Named random streams: every draw of clip *i* of split *s* comes from its own seeded generator.

A stream is keyed by (recipe seed, split name, clip index, stream name), so adding a stream, a split or a
clip never shifts the draws of another, and the output never depends on worker count or order.
"""

from __future__ import annotations

import zlib

import numpy as np

# Stream ids are part of the dataset definition: never renumber, only append.
STREAMS = {
    "classes": 0,
    "foreground_file": 1,
    "background": 2,
    "onset": 3,
    "snr": 4,
    "pitch_shift": 5,
    "cut": 6,
    "segments": 7,
    "groups": 8,
    "scaper": 9,
    # appended for multi-event soundscapes, label views, roles and domains (issue 5)
    "n_events": 10,
    "event_classes": 11,
    "extra_events": 12,
    "label_views": 13,
    "roles": 14,
}
_SPLIT_LEVEL = 0xFFFFFFFF


def _key(name: str) -> int:
    return zlib.crc32(name.encode("utf-8"))


def clip_rng(seed: int, split: str, index: int, stream: str) -> np.random.Generator:
    """Generator for one named stream of clip ``index`` of ``split``."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_key(split), index, STREAMS[stream])))


def split_rng(seed: int, split: str, stream: str) -> np.random.Generator:
    """Generator for a split-level draw (e.g. the balanced class order of a split)."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_key(split), _SPLIT_LEVEL,
                                                                         STREAMS[stream])))


def scaper_seed(seed: int, split: str, index: int) -> int:
    """A 31-bit integer seed handed to scaper (all its distributions are constants; this only pins it)."""
    return int(clip_rng(seed, split, index, "scaper").integers(0, 2**31 - 1))
