"""What a text file holds, told by its content (never by its extension alone): the headerless layouts of
the DCASE tools and :func:`detect_text_task`, the task of a text submission with the reason.

Headerless layouts (sed_eval / dcase_util event lists and long tagging), recognised from one row by which
fields are numbers (``n``) and which are text (``s``); a clip id may be a number:

==========================  ========================================  =========
fields                      columns                                   task
==========================  ========================================  =========
``n n s``                   onset, offset, event_label (one clip)     detection
``? n n s [...]``           filename, onset, offset, event_label      detection
``? s n n s [...]``         filename, scene_label, onset, offset,     detection
                            event_label (sed_eval / TUT annotations)
``? s n``                   filename, event_label, score              tagging
==========================  ========================================  =========

Extra trailing columns (``[...]``) are ignored with tab- or comma-separated rows only (with spaces they may
be the words of a label).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass

from wlbench.submissions.text import DELIMITER_NAMES, find_header, is_number, split_fields

DETECTION_ALIASES = {"file": "filename", "event_onset": "onset", "event_offset": "offset"}
SNIFF_LINES = 20  # data lines looked at to find a row that tells the layout


@dataclass(frozen=True)
class Layout:
    """A headerless layout: its ``columns`` (``""`` for an ignored one; ``filename`` may be absent), the
    delimiter and the task it belongs to."""

    name: str
    task: str
    columns: tuple[str, ...]
    sep: str
    extra: int = 0  # ignored trailing columns

    def describe(self) -> str:
        cols = ", ".join(c for c in self.columns if c)
        more = f" (+{self.extra} ignored column(s))" if self.extra else ""
        return f"{self.name}, {DELIMITER_NAMES[self.sep]}-separated, no header: columns {cols}{more}"


# (name, task, field pattern, columns, extra columns allowed)
_PATTERNS = (
    ("sed_eval event list", "detection", r"[sn]snns", ("filename", "scene_label", "onset", "offset", "event_label"),
     True),
    ("DCASE detection list", "detection", r"[sn]nns", ("filename", "onset", "offset", "event_label"), True),
    ("sed_eval per-clip event list", "detection", r"nns", ("onset", "offset", "event_label"), False),
    ("long clip scores", "tagging", r"[sn]sn", ("filename", "event_label", "score"), False),
)


def _kinds(fields: list[str]) -> str:
    return "".join("n" if is_number(f) else ("e" if not f.strip() else "s") for f in fields)


def headerless_layout(line: str) -> Layout | None:
    """The headerless layout one data row is written in (see the module doc), or None."""
    for sep in ("\t", ",", " "):
        if sep not in line:
            continue
        try:
            fields = split_fields(line, sep)
        except csv.Error:
            continue
        kinds = _kinds(fields)
        for name, task, pattern, columns, extra_ok in _PATTERNS:
            n = len(columns)
            if re.fullmatch(pattern, kinds[:n]) and (len(fields) == n or (extra_ok and sep != " " and len(fields) > n)):
                extra = len(fields) - n
                return Layout(name, task, columns + ("",) * extra, sep, extra)
    return None


def find_layout(lines: list[str], start: int) -> Layout | None:
    """The layout of the first of the data lines ``lines[start:]`` (up to :data:`SNIFF_LINES`) that shows
    one; a line holding a clip id alone (a clip without detections) shows none."""
    seen = 0
    for line in lines[start:]:
        if not line.strip() or line.startswith("#"):
            continue
        layout = headerless_layout(line)
        if layout is not None:
            return layout
        seen += 1
        if seen >= SNIFF_LINES:
            break
    return None


def detect_text_task(lines: list[str], start: int) -> tuple[str, str] | None:
    """(task, reason) of a text submission from its first non-comment line ``lines[start]`` (a header, or
    the data of a headerless file), or None when the content does not tell."""
    head = next((line for line in lines[start:] if line.strip()), None)
    if head is None:
        return None
    header = find_header(head, ["filename", "onset", "offset", "event_label"], DETECTION_ALIASES)
    if header is not None:
        return "detection", (f"read as detection list: header names filename, onset, offset, event_label "
                             f"({header.delimiter}-separated)")
    header = find_header(head, ["filename"], DETECTION_ALIASES)
    if header is not None and len(header.names) > 1:
        if {"event_label", "score"} <= set(header.canonical):
            return "tagging", (f"read as long clip scores: header names filename, event_label, score "
                               f"({header.delimiter}-separated)")
        if not {"onset", "offset"} & set(header.canonical):
            return "tagging", (f"read as wide clip scores: header names filename and {len(header.names) - 1} "
                               f"class column(s) ({header.delimiter}-separated)")
    layout = find_layout(lines, start)
    if layout is not None:
        return layout.task, f"read as {layout.describe()}"
    return None
