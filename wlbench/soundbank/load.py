"""Load a soundbank for rendering: every file with its metadata, or one clear error."""

from __future__ import annotations

from pathlib import Path

from wlbench.errors import WlbenchError
from wlbench.soundbank.check import scan_soundbank
from wlbench.soundbank.layout import Soundbank

_SHOWN = 3


def load_soundbank(path: str | Path | None = None) -> Soundbank:
    """Find and read the soundbank at ``path``; ``None`` means the default bank (built, silently, if missing).

    Raises :class:`WlbenchError` naming the path and the fix when the path is missing or not a folder, no
    foreground is found, a file is unreadable / empty / not audio / zero-length / truncated / not a regular
    file / badly named, a class folder is empty, or sources.csv is malformed. Non-fatal problems (mixed sample rates, stereo files, ...) are left to
    ``wlbench soundbank check``.
    """
    if path is None:
        from wlbench.soundbank.default import build_default_bank

        path = build_default_bank(progress=False)
    scan = scan_soundbank(path)
    fatal = [p for p in scan.problems if p.fatal]
    if fatal:
        if not scan.exists:
            what = fatal[0].message.split(";")[0]
            raise WlbenchError(f"soundbank {scan.root} {what}",
                               hint="pass a soundbank folder to --soundbank, or leave the option out to use the "
                                    "default soundbank")
        shown = "; ".join(str(p) for p in fatal[:_SHOWN])
        more = f"; and {len(fatal) - _SHOWN} more" if len(fatal) > _SHOWN else ""
        raise WlbenchError(f"soundbank {scan.root}: {len(fatal)} problem(s): {shown}{more}",
                           hint=f"fix the named files, then 'wlbench soundbank check {scan.root}' lists every problem")
    return scan.soundbank()
