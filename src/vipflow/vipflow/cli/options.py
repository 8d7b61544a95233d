"""Command-line options derived from config dataclasses: each setting is declared once.

``add_options(parser, Schema)`` adds one option per leaf field of a ``vipflow.config_schema``
dataclass: the flag, type, choices, range and help (with its default) all come from the field's
``option(...)`` declaration. Values are not defaulted in the namespace (``argparse.SUPPRESS``), so
``given(args, Schema)`` sees exactly what was typed and ``from_args(Schema, args, *layers)``
resolves ``defaults < layers (e.g. the task YAML, a saved run) < flags`` through
``config_schema.resolve``. Field metadata that shapes the option (see ``config_schema.option``):
``flag``, ``short``, ``aliases``, ``deprecated`` (old spellings, accepted with a warning for one
release), ``metavar``, ``repeat``, ``sep``, ``positional``, ``cli``, ``group``, ``default_text``,
``terminal=True`` (a switch whose default is "on when stdout is a terminal", e.g. ``--progress``).
:func:`add_flag` gives hand-declared options the same deprecation mechanism, and
:func:`show_defaults` puts every remaining default into ``--help``.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import sys
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

from vipflow.config_schema import (
    ConfigError,
    bounds_problem,
    coerce,
    optional_inner,
    resolve,
    schema_fields,
)
from vipflow.data_root import ROOT_TEXT

TERMINAL = "on when stdout is a terminal, else off"


def _warned(base: type[argparse.Action], old: Collection[str], new: str) -> type[argparse.Action]:
    """``base`` that prints a deprecation warning when one of the ``old`` spellings was typed."""
    spellings = set(old) | {"--no-" + o[2:] for o in old if o.startswith("--")}

    class Deprecated(base):  # type: ignore[valid-type, misc]
        deprecated = tuple(sorted(spellings))

        def __call__(self, parser, namespace, values, option_string=None):
            if option_string in spellings:
                print(
                    f"warning: {option_string} is deprecated and goes away in the next release; use {new}",
                    file=sys.stderr,
                )
            super().__call__(parser, namespace, values, option_string)

    return Deprecated


def add_flag(target, *flags: str, deprecated: Collection[str] = (), **kwargs: Any) -> argparse.Action:
    """``target.add_argument(*flags, **kwargs)`` that also accepts the ``deprecated`` spellings (hidden
    from --help), each with a warning naming the new one: the one alias mechanism of every command."""
    action = target.add_argument(*flags, **kwargs)
    if deprecated:
        kind = kwargs.get("action", "store")
        base = target._registry_get("action", kind, kind) if isinstance(kind, str) else kind
        new = next((f for f in flags if f.startswith("--")), flags[0])
        hidden = {"dest": action.dest, "action": _warned(base, deprecated, new), "help": argparse.SUPPRESS}
        old = {**kwargs, **hidden}
        target.add_argument(*deprecated, **old)
    return action


def add_deprecated_positional(parser: argparse.ArgumentParser, dest: str, new: str) -> None:
    """An optional, hidden positional ``dest`` that an older release required (e.g. ``sheet EPISODE
    OUT.png``, now ``--out DIR``): still accepted for one release, with a warning naming ``new``."""

    class Deprecated(argparse.Action):
        def __call__(self, parser, namespace, values, option_string=None):
            if values is not None:
                print(f"warning: positional {dest.upper()} is deprecated and goes away in the next "
                      f"release; use {new}", file=sys.stderr)
            setattr(namespace, self.dest, values)

    parser.add_argument(dest, nargs="?", type=Path, default=None, action=Deprecated, help=argparse.SUPPRESS)


def add_data_root(parser: argparse.ArgumentParser) -> None:
    """``--data-root DIR`` on ``parser`` and on every subcommand below it: one declaration, accepted
    before or after the command name (``main`` exports it as $VIPFLOW_DATA for the command)."""
    parser.add_argument(
        "--data-root", type=Path, default=argparse.SUPPRESS, metavar="DIR",
        help=f"root folder of datasets, runs, results and caches (default: {ROOT_TEXT})",
    )
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                add_data_root(sub)


def show_defaults(parser: argparse.ArgumentParser) -> None:
    """Append ``(default: X)`` (or ``(required)``) to every option of ``parser`` and of its subcommands
    whose help does not show one yet, so each default is visible in ``--help``."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                show_defaults(sub)
            continue
        text = action.help
        if text == argparse.SUPPRESS or isinstance(action, argparse._HelpAction):
            continue
        if text is None:
            text = action.help = ""
        if "(default: " in text or "(required)" in text:
            continue
        positional = not action.option_strings
        if action.required or (positional and action.nargs not in ("?", "*")):
            action.help = f"{text} (required)".strip()
        elif action.default is not argparse.SUPPRESS:
            action.help = f"{text} (default: {_show(action.default, ' ')})".replace("%", "%%").strip()


def flag_of(name: str, meta: Mapping[str, Any]) -> str:
    """The primary command-line spelling of field ``name`` (dotted): ``flag``, else ``--leaf-name``."""
    return meta.get("flag") or "--" + name.rsplit(".", 1)[-1].replace("_", "-")


def _item_type(tp: Any) -> tuple[Any, bool]:
    """(scalar or item type, is a variable/fixed tuple) of a field type, through ``X | None``."""
    tp = optional_inner(tp) or tp
    args = getattr(tp, "__args__", ())
    if getattr(tp, "__origin__", None) is tuple:
        return args[0], True
    return tp, False


def _converter(tp: Any, meta: Mapping[str, Any], where: str) -> Callable[[str], Any]:
    """argparse ``type=``: text -> value through ``coerce``, with choices and bounds checked, so a bad
    value is a usage error naming the flag (``argument --steps: must be at least 1, got 0 ...``)."""
    choices, bounds = meta.get("choices", ()), meta.get("bounds")

    def convert(text: str) -> Any:
        try:
            value = coerce(text, tp, where, from_text=True)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc).removeprefix(f"{where}: ")) from None
        items = value if isinstance(value, tuple) else (value,)
        bad = [v for v in items if choices and v is not None and v not in choices]
        if bad:
            raise argparse.ArgumentTypeError(f"{bad[0]!r} is not one of {list(choices)}")
        problem = bounds_problem(value, bounds) if bounds and value is not None else None
        if problem:
            raise argparse.ArgumentTypeError(problem)
        return value

    convert.__name__ = getattr(tp, "__name__", "value")  # argparse names it in "invalid X value"
    return convert


def _show(value: Any, sep: str) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple | list):
        return sep.join(_show(v, sep) for v in value) if value else "none"
    if isinstance(value, Path):
        return str(value)
    return str(value) if value != "" else "''"


def _on_cli(f: dataclasses.Field) -> bool:
    return not f.metadata.get("internal") and f.metadata.get("cli", True) is not False


def _required(f: dataclasses.Field) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def help_text(f: dataclasses.Field) -> str:
    """The field's help with its default, as ``--help`` shows it (every default is shown)."""
    meta = f.metadata
    text = meta.get("help", "")
    if meta.get("terminal"):
        text += f" (default: {TERMINAL})"
    elif meta.get("default_text") or not _required(f):
        shown = meta.get("default_text") or _show(_default(f), meta.get("sep", " "))
        text += f" (default: {shown})"
    else:
        text += " (required)"
    return text.replace("%", "%%")


def add_options(
    parser: argparse.ArgumentParser,
    schema: type,
    *,
    only: Collection[str] | None = None,
    skip: Collection[str] = (),
) -> list[str]:
    """Add one option per leaf field of ``schema``; their dests. ``only``/``skip``: dotted names, or
    the name of a nested schema for all of its fields."""
    groups: dict[str, Any] = {}
    dests = []
    hidden = {f.name for f in dataclasses.fields(schema) if not _on_cli(f)}  # whole nested schemas too
    for name, f, tp in schema_fields(schema):
        meta = f.metadata
        top = name.split(".", 1)[0]
        if not _on_cli(f) or top in hidden or name in skip or top in skip:
            continue
        if only is not None and name not in only and top not in only:
            continue
        title = meta.get("group")
        target = parser if not title else groups.setdefault(title, parser.add_argument_group(title))
        item, is_tuple = _item_type(tp)
        flag = flag_of(name, meta)
        kwargs: dict[str, Any] = {"default": argparse.SUPPRESS, "help": help_text(f)}
        if meta.get("metavar") or not (item is bool or meta.get("choices")):
            kwargs["metavar"] = meta.get("metavar") or flag.lstrip("-").upper().replace("-", "_")
        if meta.get("positional"):
            nargs = ("+" if _required(f) else "*") if is_tuple else None
            target.add_argument(name, nargs=nargs, type=_converter(item, meta, name), **kwargs)
            dests.append(name)
            continue
        flags = [*([meta["short"]] if meta.get("short") else []), flag, *meta.get("aliases", ())]
        kwargs["dest"] = name
        if item is bool and not is_tuple:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif is_tuple and meta.get("repeat"):
            kwargs.update(action="append", type=_converter(item, meta, flag))
        elif is_tuple and meta.get("sep"):
            kwargs["type"] = _converter(optional_inner(tp) or tp, meta, flag)
        elif is_tuple:
            size = len(getattr(optional_inner(tp) or tp, "__args__", ()))
            fixed = size > 1 and Ellipsis not in (optional_inner(tp) or tp).__args__
            kwargs.update(nargs=size if fixed else "+", type=_converter(item, meta, flag))
        else:
            kwargs["type"] = _converter(tp, meta, flag)
            if meta.get("choices"):
                kwargs["choices"] = meta["choices"]
        add_flag(target, *flags, deprecated=meta.get("deprecated", ()), **kwargs)
        dests.append(name)
    return dests


def given(args: argparse.Namespace, schema: type) -> dict[str, Any]:
    """``{dotted name: value}`` of the ``schema`` options present on the command line."""
    out: dict[str, Any] = {}
    for name, _f, _tp in schema_fields(schema):
        if hasattr(args, name):
            value = getattr(args, name)
            out[name] = tuple(value) if isinstance(value, list) else value
    return out


def terminal_defaults(schema: type) -> dict[str, bool]:
    """The ``terminal=True`` switches of ``schema`` (progress bars) on exactly when stdout is a terminal:
    a log file gets no bar redraws."""
    tty = sys.stdout.isatty()
    return {name: tty for name, f, _tp in schema_fields(schema) if f.metadata.get("terminal")}


def from_args(schema: type, args: argparse.Namespace, *layers: Mapping[str, Any]) -> Any:
    """``schema`` resolved from its defaults, then ``layers`` (flat, dotted), then the terminal
    defaults, then the given flags; a required field nobody gave is named by its flag."""
    values = given(args, schema)
    for name, f, _tp in schema_fields(schema):
        if _required(f) and name not in values and not any(name in layer for layer in layers):
            raise ConfigError(f"{flag_of(name, f.metadata)} is required: {f.metadata.get('help', '')}")
    return resolve(schema, *layers, terminal_defaults(schema), values)


def _arg_text(value: Any) -> str:
    """One value as typed on a command line, read back exactly by ``coerce`` (floats by their repr, with
    a decimal point YAML needs to read ``1.0e-05`` as a number)."""
    if value is None:
        return "none"
    if isinstance(value, float):
        text = repr(value)
        mantissa, e, exponent = text.partition("e")
        return f"{mantissa}.0e{exponent}" if e and "." not in mantissa else text
    return str(value)


def command_args(schema: type, values: Any, *, skip: Collection[str] = ()) -> list[str]:
    """The arguments :func:`add_options` parses back into ``values`` (an instance of ``schema``): one
    per field that differs from its default, positionals first. ``skip``: fields left out (e.g. the
    terminal-dependent ``progress``). A differing field with no option raises ValueError: the command
    could not reproduce ``values``."""
    positional: list[str] = []
    options: list[str] = []
    for name, f, tp in schema_fields(schema):
        meta, value = f.metadata, functools.reduce(getattr, name.split("."), values)
        if name in skip or value == _default(f):
            continue
        if not _on_cli(f):
            raise ValueError(f"{name} = {value!r} has no command-line option; a command cannot reproduce it")
        item, is_tuple = _item_type(tp)
        if meta.get("positional"):
            positional += [_arg_text(v) for v in value]
            continue
        flag = flag_of(name, meta)
        if item is bool and not is_tuple:
            options.append(flag if value else "--no-" + flag[2:])
        elif is_tuple and value is not None and meta.get("repeat"):
            options += [x for v in value for x in (flag, _arg_text(v))]
        elif is_tuple and value is not None and meta.get("sep"):
            options += [flag, meta["sep"].join(_arg_text(v) for v in value)]
        elif is_tuple and value is not None:
            options += [flag, *(_arg_text(v) for v in value)]
        else:
            options += [flag, _arg_text(value)]
    return positional + options
