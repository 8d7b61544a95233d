"""Typed dataclass schemas: the one declaration every config of the project derives from.

A dataclass declares names, types, defaults, ranges and a one-line help per field
(:func:`option`). From it derive: the task YAMLs (``vipflow.task_config``), the parameters of the
ROS nodes (:func:`param_specs`), the command-line options (``vipflow.cli.options``), and the
resolved config a run folder stores (:func:`to_json` / :func:`from_json`). Mappings are checked
key by key, so a typo or an out-of-range value fails with the key, the value and what is allowed,
instead of being silently ignored. Nested dataclasses appear as nested YAML mappings, or as
dotted names (``safety.step.max_translation_m``) in the flat form ROS parameters and flags use.
:func:`resolve` layers values (defaults < task YAML < flags); :func:`resume_differences` says which
keys of a resumed run differ from the stored config. YAML is read with :func:`parse_yaml`, which
refuses duplicate keys instead of letting the last one silently win.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """A config mapping does not match its schema; the message names the key and the fix."""


class DuplicateKeyError(yaml.YAMLError):
    """A YAML or JSON mapping names the same key twice (the last would silently win)."""

    def __init__(self, key: Any, line: int | None = None) -> None:
        where = f" at line {line}" if line else ""
        super().__init__(f"duplicate key {key!r}{where}; each key may appear once, delete the other one")


class _StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses duplicate mapping keys."""


def _strict_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, typing.Hashable):
            if key in seen:
                raise DuplicateKeyError(key, key_node.start_mark.line + 1)
            seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _strict_mapping)


def parse_yaml(text: str) -> Any:
    """``yaml.safe_load`` that raises :class:`DuplicateKeyError` (a ``yaml.YAMLError``) on a repeated key."""
    return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass: no arbitrary objects


def load_yaml(path: str | Path, error: type[Exception] = ConfigError) -> Any:
    """Read a YAML file strictly; ``error`` (one line naming the file) if unreadable or malformed."""
    path = Path(path)
    try:
        return parse_yaml(path.read_text())
    except DuplicateKeyError as exc:
        raise error(f"{path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise error(f"{path} is not valid YAML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path} cannot be read: {exc}") from None


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKeyError(key)
        out[key] = value
    return out


def parse_json(text: str) -> Any:
    """``json.loads`` that raises :class:`DuplicateKeyError` on a repeated key."""
    return json.loads(text, object_pairs_hook=_unique_pairs)


@dataclass(frozen=True)
class ParamSpec:
    """One leaf field of a schema in flat form: what a ROS node declares as a parameter."""

    name: str  # dotted for nested schemas
    type: Any  # str | int | float | bool | tuple[str, ...] | tuple[float, ...] | tuple[int, ...] | dict
    default: Any
    help: str
    choices: tuple[Any, ...] = ()


REQUIRED: Any = dataclasses.MISSING  # option(REQUIRED, ...): a field without a default


def option(default: Any, help: str, **extra: Any) -> Any:
    """A schema field with its one-line documentation (``default`` REQUIRED: the value must be given).

    Keys understood in ``extra``: ``choices=(...)`` (allowed values; for a list, of each item),
    ``bounds="[lo, hi]"`` (an interval, ``(`` / ``)`` for open ends; checked for numbers and for
    each number of a list), ``internal=True`` (not a parameter or an option), ``resume="free"``
    (may change when a run is resumed). Command-line form (``vipflow.cli.options``): ``flag``,
    ``aliases``, ``short``, ``metavar``, ``repeat=True`` (one value per flag, repeatable),
    ``sep=","`` (one comma-separated value), ``positional=True``, ``cli=False`` (no flag),
    ``group`` (help section), ``default_text`` (how --help shows a computed default).
    """
    meta = {"help": help, **extra}
    if default is REQUIRED:
        return dataclasses.field(metadata=meta)
    if isinstance(default, list | dict):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def default_of(schema: type, name: str) -> Any:
    """The default of field ``name`` of ``schema`` (a fresh copy where it has a factory)."""
    f = {x.name: x for x in dataclasses.fields(schema)}[name]
    return f.default_factory() if f.default is dataclasses.MISSING else f.default


def option_from(schema: type, name: str, help: str | None = None, **extra: Any) -> Any:
    """A field declared by ``schema``'s field ``name``: its default, documentation and checks,
    ``help``/``extra`` replacing some. One setting that two schemas hold (a task's topic and a
    node's topic parameter) is so declared once."""
    f = {x.name: x for x in dataclasses.fields(schema)}[name]
    meta = {**f.metadata, **extra}
    own_help = meta.pop("help")
    return option(default_of(schema, name), help or own_help, **meta)


_BOUNDS = re.compile(r"^\s*([\[(])\s*([^,]*?)\s*,\s*([^,]*?)\s*([\])])\s*$")


def parse_bounds(text: str) -> tuple[float, float, bool, bool]:
    """``"[1, 10000]"`` / ``"(0, 1]"`` -> (lo, hi, lo closed, hi closed); ``inf`` allowed."""
    m = _BOUNDS.match(text)
    if not m:
        raise ValueError(f"bounds {text!r} must look like '[lo, hi]' or '(lo, hi]'")
    return float(m.group(2)), float(m.group(3)), m.group(1) == "[", m.group(4) == "]"


def bounds_problem(value: Any, bounds: str) -> str | None:
    """Why ``value`` lies outside ``bounds`` (one phrase naming the value and the range), or None."""
    numbers = value if isinstance(value, tuple | list) else (value,)
    lo, hi, lo_in, hi_in = parse_bounds(bounds)
    for v in numbers:
        if isinstance(v, bool) or not isinstance(v, int | float):
            continue
        if not math.isfinite(v) and not math.isinf(hi if v > 0 else lo):
            return f"must be a finite number in {bounds}, got {v!r}"
        if v < lo or (v == lo and not lo_in):
            word = "at least" if lo_in else "above"
            return f"must be {word} {_num(lo)}, got {v!r} (allowed {bounds})"
        if v > hi or (v == hi and not hi_in):
            word = "at most" if hi_in else "below"
            return f"must be {word} {_num(hi)}, got {v!r} (allowed {bounds})"
    return None


def _num(x: float) -> str:
    return str(int(x)) if x == int(x) and abs(x) < 1e15 else f"{x:g}"


def check_fields(obj: Any, error: type[Exception] = ConfigError) -> None:
    """For ``__post_init__``: the ``choices`` and ``bounds`` of ``obj``'s own fields, so a config
    built in Python is held to the same ranges as one read from YAML, JSON or flags."""
    for f in dataclasses.fields(obj):
        problem = field_problem(f, getattr(obj, f.name), f.name)
        if problem:
            raise error(problem)


def field_problem(f: dataclasses.Field, value: Any, key: str) -> str | None:
    """One line naming ``key``, ``value`` and what field ``f`` allows (choices, bounds), or None."""
    if value is None:
        return None
    choices = f.metadata.get("choices", ())
    if choices:
        items = value if isinstance(value, tuple) else (value,)
        bad = [v for v in items if v not in choices]
        if bad:
            shown = bad[0] if not isinstance(value, tuple) else bad
            return f"{key}: {shown!r} is not one of {list(choices)}"
    bounds = f.metadata.get("bounds")
    problem = bounds_problem(value, bounds) if bounds else None
    return f"{key} {problem}" if problem else None


def require(*checks: tuple[bool, str]) -> None:
    """For schemas' ``__post_init__``: raise ValueError with the message of the first failed check."""
    for ok, message in checks:
        if not ok:
            raise ValueError(message)


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _is_schema(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def optional_inner(tp: Any) -> Any | None:
    """``X`` for ``X | None`` / ``Optional[X]``, else None."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0]
    return None


def _tuple_item(tp: Any) -> tuple[Any, int | None] | None:
    """(item type, fixed length or None) of ``tuple[X, ...]`` / ``tuple[X, X, X]``, else None."""
    if typing.get_origin(tp) is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return args[0], None
        if args and all(a is args[0] for a in args):
            return args[0], len(args)
    return None


_TYPE_NAMES = {
    str: "string", int: "integer", float: "number", bool: "true/false", dict: "mapping", Path: "path"
}  # fmt: skip


def type_name(tp: Any) -> str:
    inner = optional_inner(tp)
    if inner is not None:
        return f"{type_name(inner)} or null"
    item = _tuple_item(tp)
    if item is not None:
        size = f"{item[1]} " if item[1] else ""
        return f"list of {size}{item[0].__name__}"
    return _TYPE_NAMES.get(tp, getattr(tp, "__name__", str(tp)))


_NONE_TEXT = ("", "none", "null")


def coerce(value: Any, tp: Any, where: str, *, from_text: bool = False) -> Any:
    """Check ``value`` against ``tp`` and return it in canonical form (tuples, floats).

    ``from_text`` accepts the string forms launch arguments arrive in: ``"10"`` for an integer,
    ``"true"`` for a boolean, ``"a,b"`` or ``"[a, b]"`` for a list.
    """
    inner = optional_inner(tp)
    if inner is not None:
        if value is None or (from_text and isinstance(value, str) and value.strip().lower() in _NONE_TEXT):
            return None
        return coerce(value, inner, where, from_text=from_text)
    item = _tuple_item(tp)
    if from_text and isinstance(value, str) and tp not in (str, Path):
        try:
            if item is not None and not value.strip().startswith("["):
                parts = [v.strip() for v in value.split(",") if v.strip()]
                value = parts if item[0] is str else [parse_yaml(v) for v in parts]
            else:
                value = parse_yaml(value) if value.strip() else ([] if item is not None else value)
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
    if tp is Path:
        if not isinstance(value, str | Path):
            raise ConfigError(f"{where}: expected a path, got {value!r}")
        return Path(value)
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
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                key = f"{where}.{f.name}" if where else f.name
                raise ConfigError(f"{key} is required: {f.metadata.get('help', 'give a value')}")
            continue
        key = f"{where}.{f.name}" if where else f.name
        tp = hints[f.name]
        if _is_schema(tp):
            kwargs[f.name] = from_mapping(tp, data[f.name], key, from_text=from_text)
            continue
        value = coerce(data[f.name], tp, key, from_text=from_text)
        problem = field_problem(f, value, key)
        if problem:
            raise ConfigError(problem)
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


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def to_flat(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Schema instance -> ``{dotted name: value}`` with tuples as lists (ROS parameter values)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        name = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(value):
            out.update(to_flat(value, name + "."))
        else:
            out[name] = _plain(value)
    return out


def to_json(obj: Any) -> dict[str, Any]:
    """Schema instance -> nested JSON-able mapping (lists for tuples, strings for paths)."""
    return unflatten(to_flat(obj))


def from_json(cls: type, data: Any, where: str = "") -> Any:
    """Inverse of :func:`to_json`, as strict as a YAML file: unknown keys and wrong types are errors."""
    return from_mapping(cls, data, where)


def schema_fields(cls: type, prefix: str = "") -> list[tuple[str, dataclasses.Field, Any]]:
    """(dotted name, field, type) of every leaf field of ``cls``, in declaration order."""
    hints = _hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if _is_schema(tp):
            out.extend(schema_fields(tp, f"{prefix}{f.name}."))
        else:
            out.append((f"{prefix}{f.name}", f, tp))
    return out


def resolve(cls: type, *layers: Mapping[str, Any], where: str = "") -> Any:
    """The config from ``cls``'s defaults with flat dotted ``layers`` applied in order (later wins):
    the one resolver behind ``defaults < task YAML < flags`` and ``saved run < flags``."""
    merged: dict[str, Any] = {}
    for layer in layers:
        merged.update(layer)
    return from_flat(cls, merged, where=where)


def resume_differences(
    current: Any, saved: Mapping[str, Any], *, free: frozenset[str] | None = None
) -> list[str]:
    """``"key: checkpoint X, now Y"`` for every key where ``current`` differs from the ``saved``
    JSON config, ignoring keys that may change on resume (``option(..., resume="free")``, or
    ``free`` when given). ``saved`` is read as strictly as any config (unknown keys are errors)."""
    if free is None:
        free = frozenset(n for n, f, _ in schema_fields(type(current)) if f.metadata.get("resume") == "free")
    mine, theirs = to_flat(current), to_flat(from_json(type(current), saved, "saved config"))
    changed = [k for k, v in mine.items() if k not in free and theirs[k] != v]
    return [f"{k}: checkpoint {theirs[k]!r}, now {mine[k]!r}" for k in changed]


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
