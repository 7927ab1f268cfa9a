"""The time-tolerance policy for event times and frames outside a clip (docs/metrics.md, "Times outside
the clip"): one rule for submissions and for DCASE truth files.

The field's files stick out of their clips: DESED's durations are rounded down to 0.1 s while its
annotations run up to 0.115 s past them, and DESED_task writes events and frames over a clip's padding.
sed_eval, sed_scores_eval and psds_eval accept them. wlbench accepts them too, but never silently:

- a time within :data:`TIME_TOLERANCE` (1 us, float round-off) of ``[0, duration]`` is kept as written;
- an event that sticks out further is **clipped** to ``[0, duration]`` (counted);
- an event left with nothing inside the clip (it starts at or after the clip's end, or ends at or before
  0) is **dropped** (counted);
- with ``strict`` (``--strict``) every time outside the clip is refused (``time_outside_clip``).

:class:`ClipFit` counts what was done; the counts go into the report's notes.
"""

from __future__ import annotations

from dataclasses import dataclass

TIME_TOLERANCE = 1e-6  # seconds an event or frame may stick out of [0, clip duration] (float round-off)


def outside(onset: float, offset: float, duration: float | None) -> bool:
    """Whether ``[onset, offset]`` sticks out of ``[0, duration]`` by more than :data:`TIME_TOLERANCE`."""
    return onset < -TIME_TOLERANCE or (duration is not None and offset > duration + TIME_TOLERANCE)


@dataclass
class ClipFit:
    """Counts of events fitted to their clips (``clipped``, ``dropped``); ``what`` names them in notes
    (``"events"``, ``"reference_events"``)."""

    what: str = "events"
    clipped: int = 0
    dropped: int = 0

    def fit(self, onset: float, offset: float, duration: float | None) -> tuple[float, float] | None:
        """``(onset, offset)`` fitted to ``[0, duration]`` (unchanged when inside it), or None when nothing of
        the event lies inside the clip (counted as dropped)."""
        if not outside(onset, offset, duration):
            return onset, offset
        a = max(onset, 0.0)
        b = offset if duration is None else min(offset, duration)
        if b <= a:
            self.dropped += 1
            return None
        self.clipped += 1
        return a, b

    def notes(self) -> dict[str, int]:
        return {f"{self.what}_clipped_to_clip": self.clipped, f"{self.what}_dropped_outside_clip": self.dropped}
