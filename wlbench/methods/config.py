"""Method configuration: a typed schema per method, and one resolver for every source of values.

A method declares its options as a :class:`ConfigSchema` (``{key: Option}``). Values come, in this order,
from the schema's defaults, a config file (``--config``: a flat TOML or JSON table), and ``key=value``
overrides (``--set``, grid files). :meth:`ConfigSchema.validate` checks every value against its option
(type, finiteness, range, choices, list items) before anything runs, and raises one
:class:`~wlbench.errors.WlbenchError` naming the source, the key, the value and what is expected.

Type rules: ``bool`` is never accepted where a number is expected (``True`` is not ``1``); an ``int`` is
accepted for a ``float`` option (and stored as float); floats must be finite; strings are not coerced.
"""

from __future__ import annotations

import dataclasses
import json
import math
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from wlbench.errors import WlbenchError

KINDS = (int, float, bool, str, list)


def plain(value: Any) -> str:
    """A value as a user wrote it (TOML-like, no numpy reprs): ``3``, ``0.001``, ``true``, ``"1s"``, ``[16, 32]``."""
    if hasattr(value, "item") and not isinstance(value, (list, tuple, str)):
        value = value.item()  # numpy scalar
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(plain(v) for v in value) + "]"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return repr(value)
    return str(value)


@dataclasses.dataclass(frozen=True)
class Option:
    """One configuration option.

    Args:
        default: the default value (must itself be valid).
        kind: ``int``, ``float``, ``bool``, ``str`` or ``list``.
        doc: one line for ``--help``-style listings and error hints.
        min, max: inclusive bounds of a number (``min_inclusive=False`` makes the lower bound strict).
        choices: the allowed values (strings or numbers).
        items: the option every list element must satisfy (lists only; may itself be a list option).
        length: exact list length (lists only).
        nullable: ``None`` (JSON null; not expressible in TOML) is allowed.
        identity: False for a setting that cannot change what a run computes (a cache folder): a stored run
            made with another value is still the run a grid asks for (``wlbench.experiments.reuse``).
    """

    default: Any
    kind: type = float
    doc: str = ""
    min: float | None = None
    max: float | None = None
    min_inclusive: bool = True
    choices: tuple | None = None
    items: Option | None = None
    length: int | None = None
    nullable: bool = False
    identity: bool = True

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise TypeError(f"Option kind must be one of {KINDS}, not {self.kind!r}")
        problem = self.problem(self.default)
        if problem:
            raise ValueError(f"invalid default {self.default!r}: {problem}")

    def expectation(self) -> str:
        """What a valid value looks like, in words."""
        if self.choices is not None:
            return "one of " + ", ".join(plain(c) for c in self.choices)
        what = {int: "an integer", float: "a finite number", bool: "true or false", str: "a string",
                list: "a list"}[self.kind]
        if self.kind in (int, float):
            low = None if self.min is None else f"{'>=' if self.min_inclusive else '>'} {plain(self.min)}"
            high = None if self.max is None else f"<= {plain(self.max)}"
            bounds = " and ".join(b for b in (low, high) if b)
            what += f" {bounds}" if bounds else ""
        if self.kind is list:
            if self.length is not None:
                what = f"a list of {self.length}"
            if self.items is not None:
                what += f" whose items are each {self.items.expectation()}"
        return what

    def problem(self, value: Any) -> str | None:
        """``None`` when ``value`` is valid, else why not (one phrase)."""
        if value is None:
            return None if self.nullable else "null is not allowed"
        kind = self.kind
        if kind is bool:
            if not isinstance(value, bool):
                return "not true or false"
        elif kind in (int, float):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return "not a number"
            if kind is int and not isinstance(value, int):
                return "not an integer"
            if not math.isfinite(value):
                return "not finite"
            if self.min is not None and (value < self.min or (not self.min_inclusive and value == self.min)):
                return "out of range"
            if self.max is not None and value > self.max:
                return "out of range"
        elif kind is str:
            if not isinstance(value, str):
                return "not a string"
        elif kind is list:
            if not isinstance(value, (list, tuple)):
                return "not a list"
            if self.length is not None and len(value) != self.length:
                return f"{len(value)} item{'s' * (len(value) != 1)}, not {self.length}"
            if self.items is not None:
                for i, item in enumerate(value):
                    inner = self.items.problem(item)
                    if inner:
                        return f"item {i} ({plain(item)}): {inner}"
        if self.choices is not None and value not in self.choices:
            return "not one of the choices"
        return None

    def normalise(self, value: Any) -> Any:
        """A valid value in its stored form (float options store floats; lists are lists)."""
        if value is None:
            return None
        if self.kind is float:
            return float(value)
        if self.kind is list:
            return [self.items.normalise(v) if self.items is not None else v for v in value]
        return value


class ConfigSchema(Mapping[str, Option]):
    """The options of a method: an immutable mapping ``key -> Option``. Combine schemas with ``|``."""

    def __init__(self, options: Mapping[str, Option]) -> None:
        for key, option in options.items():
            if not isinstance(option, Option):
                raise TypeError(f"config option {key!r} must be an Option, not {type(option).__name__}")
        self._options = dict(options)

    def __getitem__(self, key: str) -> Option:
        return self._options[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._options)

    def __len__(self) -> int:
        return len(self._options)

    def __or__(self, other: Mapping[str, Option]) -> ConfigSchema:
        return ConfigSchema({**self._options, **dict(other)})

    def with_defaults(self, **defaults: Any) -> ConfigSchema:
        """The same schema with other defaults (each checked against its option)."""
        unknown = sorted(set(defaults) - set(self._options))
        if unknown:
            raise KeyError(f"no such options: {unknown}")
        return ConfigSchema({k: dataclasses.replace(o, default=defaults[k]) if k in defaults else o
                             for k, o in self._options.items()})

    def defaults(self) -> dict[str, Any]:
        """Every key with its default value."""
        return {key: option.normalise(option.default) for key, option in self._options.items()}

    def check_keys(self, values: Mapping[str, Any], where: str, method: str) -> None:
        """Refuse keys the schema does not declare, naming the valid ones."""
        for key in values:
            if key not in self._options:
                raise WlbenchError(f"{where}: unknown config key {key!r} for method {method!r}",
                                   hint=f"valid keys: {', '.join(sorted(self._options))}")

    def validate(self, values: Mapping[str, Any], where: str = "config", method: str = "") -> dict[str, Any]:
        """Check every value of ``values`` (a subset of the keys is fine) and return them normalised."""
        self.check_keys(values, where, method)
        out = {}
        for key, value in values.items():
            option = self._options[key]
            problem = option.problem(value)
            if problem:
                raise WlbenchError(f"{where}: {key} = {plain(value)}: {problem}",
                                   hint=f"{key} must be {option.expectation()}"
                                        + (f": {option.doc}" if option.doc else ""))
            out[key] = option.normalise(value)
        return out

    def describe(self) -> list[tuple[str, str, str]]:
        """(key, default, doc) rows for listings."""
        return [(k, plain(o.default), o.doc) for k, o in sorted(self._options.items())]


# --- sources of values ------------------------------------------------------------------------------

def parse_value(text: str) -> Any:
    """``--set`` values: a TOML value (``3``, ``1e-3``, ``true``, ``[16, 32]``, ``"x"``), else a bare string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_override(item: str) -> tuple[str, Any]:
    """``"key=value"`` (a ``--set`` argument) -> ``(key, parsed value)``; see :func:`parse_value`."""
    if "=" not in item:
        raise WlbenchError(f"--set {item!r}: expected key=value", hint="e.g. --set max_epochs=5")
    key, value = item.split("=", 1)
    if not key.strip():
        raise WlbenchError(f"--set {item!r}: the key is empty", hint="e.g. --set max_epochs=5")
    return key.strip(), parse_value(value.strip())


def read_table_file(path: Path, what: str = "config file") -> dict[str, Any]:
    """A TOML (or, for ``*.json``, JSON) file whose top level is a table; one clear error otherwise."""
    path = Path(path)
    if not path.is_file():
        raise WlbenchError(f"{what} {path} not found" if not path.exists() else f"{what} {path} is not a file")
    from wlbench.paths import read_text_input

    text = read_text_input(path, what, hint="give a TOML file (or JSON for *.json)", limit=10_000_000)
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise WlbenchError(f"{what} {path}: {exc}") from None
    if not isinstance(data, dict):
        raise WlbenchError(f"{what} {path} holds a JSON {type(data).__name__}, not a table of key = value",
                           hint='write {"key": value, ...}')
    return data


def resolve_config(method: Any, config_file: Path | None = None,
                   overrides: Sequence[str] | Mapping[str, Any] = ()) -> dict[str, Any]:
    """Defaults of ``method``'s schema <- config file <- overrides (``key=value`` strings or a mapping),
    every value validated; unknown keys refused naming the valid ones."""
    schema: ConfigSchema = method.config_schema()
    config = schema.defaults()
    layers: list[tuple[str, Mapping[str, Any]]] = []
    if config_file is not None:
        layers.append((f"config file {config_file}", read_table_file(config_file)))
    if isinstance(overrides, Mapping):
        layers.append(("config", overrides))
    else:
        layers.append(("--set", dict(parse_override(item) for item in overrides)))
    for where, values in layers:
        config.update(schema.validate(values, where, method.name))
    return config
