"""A real writer killed with SIGKILL in the middle of its atomic writes (its temporaries stay behind)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

_WRITER = """
import sys, time
from pathlib import Path
from wlbench.atomic import atomic_dir, atomic_path
with atomic_path(Path(sys.argv[1])) as tmp, atomic_dir(Path(sys.argv[2])) as folder:
    tmp.write_bytes(b"x" * 100000)
    (folder / "kept.csv").write_text("half")
    print("writing", flush=True)
    time.sleep(600)
"""


def killed_writer(file_target: Path, folder_target: Path) -> int:
    """Start a process writing ``file_target`` and ``folder_target`` atomically, SIGKILL it mid-write and
    return its (now dead) pid."""
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(file_target), str(folder_target)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    return proc.pid
