"""Finding methods: every entry point of the group ``wlbench.methods`` (reference baselines and outside
methods alike: wlbench never imports ``wlbench_baselines``, the repository's baselines/ folder)."""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import Any

from wlbench.errors import WlbenchError
from wlbench.methods.config import ConfigSchema

GROUP = "wlbench.methods"
REQUIRED = ("name", "description", "config_schema", "train", "predict")


def available_methods() -> dict[str, EntryPoint]:
    """``{name: entry point}`` of every registered method."""
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def get_method(name: str) -> Any:
    """The method registered as ``name``, checked against the protocol (:class:`wlbench.methods.Method`)."""
    eps = available_methods()
    if name not in eps:
        known = ", ".join(sorted(eps)) or "none (install wlbench with `pip install -e .`)"
        raise WlbenchError(f"unknown method {name!r}; registered methods: {known}",
                           hint="register an outside method under the 'wlbench.methods' entry point")
    try:
        obj = eps[name].load()
        if isinstance(obj, type):
            obj = obj()
    except Exception as exc:  # noqa: BLE001 - a broken plug-in must not crash the CLI with a traceback
        raise WlbenchError(f"method {name!r} ({eps[name].value}) cannot be loaded: "
                           f"{type(exc).__name__}: {exc}") from exc
    missing = [a for a in REQUIRED if not hasattr(obj, a)]
    if missing:
        raise WlbenchError(f"method {name!r} ({eps[name].value}) lacks {', '.join(missing)}",
                           hint="see the Method protocol in wlbench/methods/protocol.py")
    try:
        schema = obj.config_schema()
    except Exception as exc:  # noqa: BLE001
        raise WlbenchError(f"method {name!r}: config_schema() failed ({type(exc).__name__}: {exc})") from exc
    if not isinstance(schema, ConfigSchema):
        raise WlbenchError(f"method {name!r}: config_schema() returned {type(schema).__name__}, "
                           f"not a wlbench.methods.ConfigSchema")
    for control, overrides in dict(getattr(obj, "controls", {}) or {}).items():
        schema.validate(overrides, f"control {control!r} of method {name!r}", name)
    return obj
