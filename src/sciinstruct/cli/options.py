"""Command-line options derived from a stage's config dataclass, as TRL's `HfArgumentParser`.

Each field is declared once, on its dataclass (`settings.option`: type, default, help, bounds);
`config_options` gives a command one option per field: named `--field-name` (or the field's
`flag`, plus its `short`), `--help` showing the help and the dataclass default (the option's own
default, so it is the one place it lives), a bound broken on
the command line refused in one line naming the flag and the value. A nested dataclass field
(annotate's `plan`, `judge`) gives its fields as options too, prefixed `<field>-` unless it
declares another `prefix`; a field's `cli_name` renames its option and is prefixed the same
way (`EngineSpec.name` is `--backend`, and `--judge-backend` under the prefix `judge_`), where
an absolute `flag` is not. A sequence takes repeated or comma-separated values; a mapping
declared with `assignments=True` (an engine's `options`) takes repeated `KEY=VALUE`.

The command receives only what the user typed (click's parameter source, not a sentinel), as dotted field names (`{"plan.samples": 2}`), and
`build_config` layers it over the recipe and `--set` with the one builder, `settings.build`: the
recipe's keys are the field names and every value is converted by its declared type.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal, TypeVar

import typer

from sciinstruct.errors import InputError
from sciinstruct.settings import (
    bound_error,
    build,
    dataclass_of,
    help_text,
    load_yaml,
    parse_assignments,
    set_dotted,
    type_members,
)

T = TypeVar("T")
CONTEXT = "cfg__context"  # the click context, to tell a typed value from a default
# typer carries its own copy of click, so the parameter source is compared by name
UNTYPED = ("DEFAULT", "DEFAULT_MAP")
F = TypeVar("F", bound=Callable[..., Any])


@dataclasses.dataclass(frozen=True)
class CliField:
    """One config field as a command-line option."""

    key: str  # dotted path in the config: "plan.samples"
    param: str  # the command function's parameter name
    flag: str  # "--samples"
    field: dataclasses.Field
    kind: Any  # the declared type
    cli_type: Any  # what click parses
    sequence: bool
    short: str | None = None  # "-j": only where the option is not prefixed


def _cli_type(kind: Any, assignments: bool = False) -> tuple[Any, bool, tuple[Any, ...] | None]:
    """(click type, is a sequence, choices from a Literal) of a declared type; None: no option."""
    members = [m for m in type_members(kind) if m is not type(None)]
    if assignments:  # a mapping given as repeated KEY=VALUE
        return list[str], True, None
    for member in members:
        if typing.get_origin(member) in (list, tuple):
            inner = typing.get_args(member)[0] if typing.get_args(member) else str
            return list[inner if inner in (str, int, float, Path) else str], True, None
    member = members[0] if members else str
    if typing.get_origin(member) is Literal:
        return str, False, typing.get_args(member)
    if member in (bool, int, float, str, Path):
        return member, False, None
    return None, False, None  # dicts and other shapes: the command declares its own option


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def cli_fields(
    cls: type,
    only: tuple[str, ...] | None = None,
    exclude: tuple[str, ...] = (),
    into: str = "given",
) -> Iterator[CliField]:
    """The options `cls` declares; `only`/`exclude` name dotted keys (`"plan"` means all of it).
    `into` keeps the parameters of configs stacked on one command apart (two have a `name`)."""

    def wanted(key: str) -> bool:
        def under(names: tuple[str, ...]) -> bool:
            return any(key == n or key.startswith(n + ".") for n in names)

        return (only is None or under(only)) and not under(exclude)

    def walk(klass: type, where: str, prefix: str) -> Iterator[CliField]:
        hints = typing.get_type_hints(klass, include_extras=False)
        for f in dataclasses.fields(klass):
            key = f"{where}{f.name}"
            if f.metadata.get("cli") is False or not f.init:
                continue
            nested = dataclass_of(hints[f.name])
            if nested is not None:
                inner = f.metadata.get("prefix", f"{f.name}_")
                yield from walk(nested, key + ".", prefix + inner)
                continue
            if not wanted(key):
                continue
            cli_type, sequence, _ = _cli_type(hints[f.name], _takes_assignments(f))
            if cli_type is None:
                continue
            name = f.metadata.get("cli_name", f.name)
            flag = f.metadata.get("flag") or "--" + (prefix + name).replace("_", "-")
            param = f"cfg__{into}__" + key.replace(".", "__")
            # a prefixed option has no short form: `-m` is the engine's model, not its judge's
            short = f.metadata.get("short") if not prefix else None
            yield CliField(key, param, flag, f, hints[f.name], cli_type, sequence, short)

    yield from walk(cls, "", "")


def _takes_assignments(f: dataclasses.Field) -> bool:
    return bool(f.metadata.get("assignments"))


def _option(cf: CliField, shorts: bool = True) -> typer.models.OptionInfo:
    meta = cf.field.metadata
    _, _, literal = _cli_type(cf.kind, _takes_assignments(cf.field))
    choices = meta.get("choices") or literal
    text = help_text(cf.field)
    if choices and "one of" not in text:
        text = f"{text} One of: {', '.join(map(str, choices))}.".strip()
    if cf.sequence and not _takes_assignments(cf.field):
        text = f"{text} Repeat or separate with commas.".strip()
    decls = [cf.flag]
    if cf.cli_type is bool and "/" not in cf.flag:
        decls = [f"{cf.flag}/--no-{cf.flag[2:]}"]
    if cf.short and shorts:
        decls.append(cf.short)
    default = _default(cf.field)
    if isinstance(default, dict):
        default = [f"{k}={v}" for k, v in default.items()]
    if isinstance(default, tuple):
        default = list(default)
    if cf.sequence and isinstance(default, str):
        default = [default]  # `list[str] | str` (LoRA's `all-linear`)
    if isinstance(default, Path):
        default = str(default)
    return typer.Option(default, *decls, help=text, show_default=default not in (None, []))


def cli_value(cf: CliField, value: Any) -> Any:
    """The typed value, checked against the field's bounds; None when not given."""
    if value is None or (cf.sequence and not value):
        return None
    if _takes_assignments(cf.field):
        return parse_assignments(list(value), cf.flag)
    if cf.sequence:
        items = [
            part.strip() if isinstance(part, str) else part
            for item in value
            for part in (item.split(",") if isinstance(item, str) else [item])
        ]
        items = [i for i in items if i != ""]
        if str in type_members(cf.kind) and len(items) == 1:
            return items[0]  # `list[str] | str`: one name stays a name (LoRA's `all-linear`)
        for item in items:
            _check(cf, item)
        return items
    if isinstance(value, Path):
        value = str(value)
    _check(cf, value)
    return value


def _check(cf: CliField, value: Any) -> None:
    reason = bound_error(cf.flag, cf.field, value)
    if reason:
        raise InputError(reason)


def config_options(
    cls: type,
    into: str = "given",
    only: tuple[str, ...] | None = None,
    exclude: tuple[str, ...] = (),
    shorts: bool = True,
) -> Callable[[F], F]:
    """Add an option per field of `cls` to a typer command; the command gets the values the user
    gave as `{dotted key: value}` in its parameter `into`. Several configs stack on one command,
    each with its own `into`. `shorts=False` leaves out the short forms (`-b` is `eval`'s
    `--benchmark`, not its `--backend`)."""
    fields = list(cli_fields(cls, only, exclude, into))

    def wrap(fn: F) -> F:
        signature = inspect.signature(fn, eval_str=True)
        params = [p for p in signature.parameters.values() if p.name != into]
        taken = {p.name for p in params}
        for cf in fields:
            if cf.param in taken:
                raise TypeError(f"{fn.__name__}: parameter {cf.param} declared twice")
            params.append(
                inspect.Parameter(
                    cf.param,
                    inspect.Parameter.KEYWORD_ONLY,
                    default=_option(cf, shorts),
                    annotation=cf.cli_type | None,
                )
            )
        stacked = CONTEXT in taken  # a second config on one command shares the context
        if not stacked:
            params.append(
                inspect.Parameter(CONTEXT, inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)
            )
        params.sort(key=lambda p: p.kind)  # keyword-only parameters last

        @functools.wraps(fn)
        def command(**kwargs: Any) -> Any:
            # Only what the user typed: a default left alone must not hide the recipe's value.
            context: typer.Context = kwargs[CONTEXT] if stacked else kwargs.pop(CONTEXT)
            given: dict[str, Any] = {}
            for cf in fields:
                value = kwargs.pop(cf.param)
                source = context.get_parameter_source(cf.param)
                if source is None or source.name in UNTYPED:
                    continue
                value = cli_value(cf, value)
                if value is not None:
                    given[cf.key] = value
            return fn(**kwargs, **{into: given})

        del command.__wrapped__  # typer must see the new signature, not fn's
        command.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        return command  # type: ignore[return-value]

    return wrap


def build_config(
    cls: type[T],
    given: dict[str, Any],
    recipe: str | Path | None = None,
    sets: list[str] | None = None,
    defaults: dict[str, Any] | None = None,
) -> T:
    """`cls` from, lowest first: its defaults, `defaults` (a command's own), the recipe file,
    `--set KEY=VALUE`, then the options given. Unknown keys anywhere are refused by name."""
    data: dict[str, Any] = set_dotted({}, dict(defaults or {}))
    sources = []
    if recipe is not None:
        _merge(data, load_yaml(recipe, "recipe file"))
        sources.append(str(recipe))
    overrides = {**parse_assignments(sets), **given}
    if overrides or not sources:
        sources.append("command line")
    set_dotted(data, overrides)
    return build(cls, data, file=" + ".join(sources))


def _merge(into: dict[str, Any], data: dict[str, Any]) -> None:
    for key, value in data.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def help_of(cls: type, name: str) -> str:
    """The help a field of `cls` declares, for a command's own option over that field."""
    return next(help_text(f) for f in dataclasses.fields(cls) if f.name == name)
