"""The validation report: every problem of a submission, each with its kind, place and fix."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wlbench.errors import WlbenchError

KINDS = ("unreadable", "bad_header", "missing_clip", "unknown_clip", "duplicate_row", "unknown_label",
         "missing_label", "missing_score", "missing_value", "not_a_number", "not_finite", "out_of_range",
         "bad_row", "onset_not_before_offset", "time_outside_clip", "bad_frames", "unexpected_file",
         "wrong_split", "wrong_dataset", "wrong_shape")


@dataclass
class Problem:
    """One validation problem. ``row`` is the 1-based line number (None: the whole file); ``file`` the
    member file of a multi-file submission (a directory or archive of score files)."""

    kind: str
    message: str
    row: int | None = None
    field: str | None = None
    file: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {"kind": self.kind, "row": self.row, "field": self.field, "message": self.message}
        if self.file is not None:
            out["file"] = self.file
        return out

    def __str__(self) -> str:
        where = []
        if self.file is not None:
            where.append(f"file {self.file}")
        if self.row is not None:
            where.append(f"line {self.row}")
        if self.field is not None:
            where.append(f"field {self.field!r}")
        return f"[{self.kind}] " + (", ".join(where) + ": " if where else "") + self.message


@dataclass
class ValidationReport:
    """Every problem found in one submission, plus informational notes."""

    path: str
    task: str
    format: str | None = None
    problems: list[Problem] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)
    subject: str = "submission"  # what the file is, for the summary line ("truth file", ...)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, kind: str, message: str, row: int | None = None, field: str | None = None,
            file: str | None = None) -> None:
        self.problems.append(Problem(kind, message, row, field, file))

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for p in self.problems:
            out[p.kind] = out.get(p.kind, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "task": self.task, "format": self.format, "valid": self.ok,
                "counts": self.counts(), "problems": [p.to_dict() for p in self.problems],
                "notes": self.notes}

    def summary(self, limit: int | None = None) -> str:
        """All problems (or the first ``limit``), one per line, after a count line."""
        counts = ", ".join(f"{n} {k}" for k, n in sorted(self.counts().items()))
        lines = [f"invalid {self.subject} {self.path}: {len(self.problems)} problem(s) ({counts})"]
        read_as = self.notes.get("read_as")
        if read_as and "(--task" not in read_as:  # told by the content: say how, and how to override it
            lines.append(f"  ({read_as}; --task reads it as another task)")
        shown = self.problems if limit is None else self.problems[:limit]
        lines += [f"  {p}" for p in shown]
        if len(shown) < len(self.problems):
            lines.append(f"  ... {len(self.problems) - len(shown)} more")
        return "\n".join(lines)

    def raise_if_invalid(self) -> None:
        if not self.ok:
            raise SubmissionError(self)


class SubmissionError(WlbenchError):
    """A submission failed validation; ``report`` holds every problem."""

    def __init__(self, report: ValidationReport) -> None:
        self.report = report
        super().__init__(report.summary())
