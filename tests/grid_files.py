"""Writing test grid files: a config dict as the TOML lines of a ``[config]`` table."""

from __future__ import annotations

import json
from typing import Any


def config_lines(cfg: dict[str, Any]) -> str:
    """``key = value`` lines, one per entry (JSON values are valid TOML for the scalars and lists used here)."""
    return "\n".join(f"{k} = {json.dumps(v)}" for k, v in cfg.items())
