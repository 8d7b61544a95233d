"""Typed dataclass schemas for YAML configs and ROS node parameters, with strict validation.

One mechanism serves both the task YAMLs (``vipflow.task_config``) and the parameter sets of the
ROS nodes: a frozen dataclass declares names, types, defaults and a one-line help per field
(``field(metadata={"help": ...})``). Mappings are checked against it key by key, so a typo in a
YAML file or a launch argument fails with the key, the expected type and the allowed names,
instead of being silently ignored. Nested dataclasses appear as nested YAML mappings, or as
dotted names (``safety.step.max_translation_m``) in the flat form ROS parameters use.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml


class ConfigError(ValueError):
    """A config mapping does not match its schema; the message names the key and the fix."""


@dataclass(frozen=True)
class ParamSpec:
    """One leaf field of a schema in flat form: what a ROS node declares as a parameter."""

    name: str  # dotted for nested schemas
    type: Any  # str | int | float | bool | tuple[str, ...] | tuple[float, ...] | tuple[int, ...] | dict
    default: Any
    help: str
    choices: tuple[Any, ...] = ()


def option(default: Any, help: str, **extra: Any) -> Any:
    """A schema field with its one-line documentation (``choices=(...)`` restricts the value)."""
    meta = {"help": help, **extra}
    if isinstance(default, list | dict):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def require(*checks: tuple[bool, str]) -> None:
    """For schemas' ``__post_init__``: raise ValueError with the message of the first failed check."""
    for ok, message in checks:
        if not ok:
            raise ValueError(message)


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _is_schema(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _tuple_item(tp: Any) -> tuple[Any, int | None] | None:
    """(item type, fixed length or None) of ``tuple[X, ...]`` / ``tuple[X, X, X]``, else None."""
    if typing.get_origin(tp) is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return args[0], None
        if args and all(a is args[0] for a in args):
            return args[0], len(args)
    return None


def type_name(tp: Any) -> str:
    item = _tuple_item(tp)
    if item is not None:
        size = f"{item[1]} " if item[1] else ""
        return f"list of {size}{item[0].__name__}"
    return {str: "string", int: "integer", float: "number", bool: "true/false", dict: "mapping"}.get(
        tp, getattr(tp, "__name__", str(tp))
    )


def coerce(value: Any, tp: Any, where: str, *, from_text: bool = False) -> Any:
    """Check ``value`` against ``tp`` and return it in canonical form (tuples, floats).

    ``from_text`` accepts the string forms launch arguments arrive in: ``"10"`` for an integer,
    ``"true"`` for a boolean, ``"a,b"`` or ``"[a, b]"`` for a list.
    """
    item = _tuple_item(tp)
    if from_text and isinstance(value, str) and tp is not str:
        try:
            if item is not None and not value.strip().startswith("["):
                parts = [v.strip() for v in value.split(",") if v.strip()]
                value = parts if item[0] is str else [yaml.safe_load(v) for v in parts]
            else:
                value = yaml.safe_load(value) if value.strip() else ([] if item is not None else value)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{where}: cannot read {value!r} as a {type_name(tp)}: {exc}") from None
    if item is not None:
        # ROS hands numeric array parameters over as array.array, YAML as lists.
        if isinstance(value, str | bytes) or not isinstance(value, Sequence):
            raise ConfigError(f"{where}: expected a {type_name(tp)}, got {value!r}")
        if item[1] is not None and len(value) != item[1]:
            raise ConfigError(f"{where}: expected {item[1]} values, got {len(value)}: {list(value)!r}")
        return tuple(coerce(v, item[0], f"{where}[{i}]") for i, v in enumerate(value))
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r} (quote it in YAML)")
        return value
    if tp is dict:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    raise ConfigError(f"{where}: unsupported schema type {tp!r}")


def from_mapping(cls: type, data: Any, where: str = "", *, from_text: bool = False) -> Any:
    """Build schema ``cls`` from a nested mapping; missing keys keep their defaults."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where or cls.__name__}: expected a mapping, got {type(data).__name__}")
    hints = _hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise ConfigError(f"{where or cls.__name__}: unknown key(s) {unknown}; allowed: {names}")
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        key = f"{where}.{f.name}" if where else f.name
        tp = hints[f.name]
        if _is_schema(tp):
            kwargs[f.name] = from_mapping(tp, data[f.name], key, from_text=from_text)
            continue
        value = coerce(data[f.name], tp, key, from_text=from_text)
        choices = f.metadata.get("choices", ())
        if choices and value not in choices:
            raise ConfigError(f"{key}: {value!r} is not one of {list(choices)}")
        kwargs[f.name] = value
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{where or cls.__name__}: {exc}") from exc


def param_specs(cls: type, prefix: str = "", defaults: Any = None) -> list[ParamSpec]:
    """The schema's leaf fields in flat (dotted) form, in declaration order.

    Defaults come from a default-constructed instance, so a nested field whose
    ``default_factory`` customises the nested schema reports the customised values.
    """
    hints = _hints(cls)
    defaults = cls() if defaults is None else defaults
    out: list[ParamSpec] = []
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        name = f"{prefix}{f.name}"
        if f.metadata.get("internal"):
            continue
        if _is_schema(tp):
            out.extend(param_specs(tp, name + ".", getattr(defaults, f.name)))
            continue
        # Schemas borrowed from other modules (e.g. SafetyLimits) carry no help: point at the class.
        help_text = f.metadata.get("help") or f"{cls.__module__}.{cls.__name__}.{f.name}"
        out.append(
            ParamSpec(name, tp, getattr(defaults, f.name), help_text, tuple(f.metadata.get("choices", ())))
        )
    return out


def to_flat(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Schema instance -> ``{dotted name: value}`` with tuples as lists (ROS parameter values)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        name = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(value):
            out.update(to_flat(value, name + "."))
        else:
            out[name] = list(value) if isinstance(value, tuple) else value
    return out


def unflatten(flat: Mapping[str, Any]) -> dict[str, Any]:
    """``{"a.b": 1}`` -> ``{"a": {"b": 1}}`` (inverse of :func:`to_flat` on the mapping level)."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"parameter {key!r} clashes with a non-mapping value at {part!r}")
        node[leaf] = value
    return out


def from_flat(cls: type, flat: Mapping[str, Any], *, from_text: bool = False, where: str = "") -> Any:
    """Build schema ``cls`` from dotted names (ROS parameters, launch arguments)."""
    return from_mapping(cls, unflatten(flat), where, from_text=from_text)


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Recursive dict merge: ``override`` wins; nested mappings merge key by key."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out
