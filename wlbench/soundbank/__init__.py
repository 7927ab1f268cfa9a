"""Find, check and fingerprint soundbanks; build the embedded default soundbank.

Public API::

    load_soundbank(path=None) -> Soundbank          # None: the default bank (built if missing)
    check_soundbank(path=None) -> CheckReport       # every problem, never raises on content
    soundbank_fingerprint(root) -> str              # sha256 hex over relative paths + file bytes
    default_bank_path() -> Path
    build_default_bank(out=None, progress=True) -> Path
"""

from __future__ import annotations

from wlbench.soundbank.check import CheckReport, DurationStats, Problem, check_soundbank
from wlbench.soundbank.default import BANK_VERSION, build_default_bank, default_bank_path
from wlbench.soundbank.fingerprint import soundbank_fingerprint
from wlbench.soundbank.layout import PART_NAMES, Soundbank, SoundFile, split_class_folder
from wlbench.soundbank.load import load_soundbank

DEFAULT_BANK_HELP = ("Soundbank folder (DESED, parts or plain layout; see docs/soundbank.md). Left out: the "
                     "embedded default soundbank, built offline on first use into $WLBENCH_CACHE/soundbanks.")

__all__ = [
    "BANK_VERSION", "CheckReport", "DEFAULT_BANK_HELP", "DurationStats", "PART_NAMES", "Problem", "SoundFile",
    "Soundbank", "build_default_bank", "check_soundbank", "default_bank_path", "load_soundbank",
    "soundbank_fingerprint", "split_class_folder",
]
