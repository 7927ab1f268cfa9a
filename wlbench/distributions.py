"""Scalar distributions used in recipes, sampled with an explicit numpy Generator.

A distribution is written in TOML as an inline table, e.g. ``{dist = "uniform", min = 6, max = 30}``.
Kinds: ``const`` (value), ``uniform`` (min, max), ``normal`` (mean, std), ``truncnorm`` (mean, std, min,
max), ``choose`` (values: a list, drawn uniformly). wlbench draws every value itself and hands scaper
constants, so the draw order is wlbench's and never scaper's.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from wlbench.errors import WlbenchError

_PARAMS = {
    "const": ("value",),
    "uniform": ("min", "max"),
    "normal": ("mean", "std"),
    "truncnorm": ("mean", "std", "min", "max"),
    "choose": ("values",),
}


@dataclasses.dataclass(frozen=True)
class Distribution:
    """A scalar distribution; ``params`` holds the kind's parameters by name (see module docstring)."""

    kind: str
    params: tuple[tuple[str, Any], ...]

    def __getitem__(self, name: str) -> Any:
        return dict(self.params)[name]

    @property
    def low(self) -> float:
        """Smallest value the distribution can produce (-inf for an unbounded normal)."""
        p = dict(self.params)
        if self.kind == "const":
            return float(p["value"])
        if self.kind in ("uniform", "truncnorm"):
            return float(p["min"])
        if self.kind == "choose":
            return float(min(p["values"]))
        return -np.inf

    @property
    def high(self) -> float:
        """Largest value the distribution can produce (+inf for an unbounded normal)."""
        p = dict(self.params)
        if self.kind == "const":
            return float(p["value"])
        if self.kind in ("uniform", "truncnorm"):
            return float(p["max"])
        if self.kind == "choose":
            return float(max(p["values"]))
        return np.inf

    def sample(self, rng: np.random.Generator) -> float:
        """Draw one value. Always consumes exactly one draw of ``rng`` (so streams stay aligned)."""
        p = dict(self.params)
        u = rng.random()
        if self.kind == "const":
            return float(p["value"])
        if self.kind == "uniform":
            return float(p["min"] + u * (p["max"] - p["min"]))
        if self.kind == "choose":
            values = p["values"]
            return float(values[min(int(u * len(values)), len(values) - 1)])
        from scipy.special import ndtr, ndtri

        if self.kind == "normal":
            return float(p["mean"] + p["std"] * ndtri(min(max(u, 1e-300), 1 - 1e-16)))
        lo = ndtr((p["min"] - p["mean"]) / p["std"])
        hi = ndtr((p["max"] - p["mean"]) / p["std"])
        value = p["mean"] + p["std"] * ndtri(lo + u * (hi - lo))
        return float(np.clip(value, p["min"], p["max"]))

    def as_dict(self) -> dict[str, Any]:
        return {"dist": self.kind, **dict(self.params)}


def parse_distribution(raw: Any, where: str) -> Distribution:
    """Parse a TOML value into a :class:`Distribution`; a bare number means ``const``.

    ``where`` names the recipe field (e.g. ``"foreground.snr"``) for error messages.
    """
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return Distribution("const", (("value", float(raw)),))
    if not isinstance(raw, dict):
        raise WlbenchError(f"{where}: expected a number or a table like {{dist = \"uniform\", min = 0, max = 1}}, "
                           f"got {raw!r}")
    kind = raw.get("dist")
    if kind not in _PARAMS:
        raise WlbenchError(f"{where}.dist: unknown distribution {kind!r}; use one of {', '.join(_PARAMS)}")
    expected = set(_PARAMS[kind])
    given = set(raw) - {"dist"}
    if given != expected:
        missing, extra = sorted(expected - given), sorted(given - expected)
        detail = "; ".join(filter(None, [f"missing {', '.join(missing)}" if missing else "",
                                         f"unknown {', '.join(extra)}" if extra else ""]))
        raise WlbenchError(f"{where}: a {kind!r} distribution takes {', '.join(_PARAMS[kind])} ({detail})")
    params: dict[str, Any] = {}
    for name in _PARAMS[kind]:
        value = raw[name]
        if name == "values":
            if (not isinstance(value, list) or not value
                    or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
                raise WlbenchError(f"{where}.values: expected a non-empty list of numbers, got {value!r}")
            params[name] = tuple(float(v) for v in value)
            continue
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not np.isfinite(value):
            raise WlbenchError(f"{where}.{name}: expected a finite number, got {value!r}")
        params[name] = float(value)
    if "min" in params and params["min"] > params["max"]:
        raise WlbenchError(f"{where}: min ({params['min']}) is greater than max ({params['max']})")
    if "std" in params and params["std"] <= 0:
        raise WlbenchError(f"{where}.std: must be positive, got {params['std']}")
    return Distribution(kind, tuple(params.items()))
