"""Settings from YAML and `--set`: one loader, one `KEY=VALUE` parser, one builder of config
dataclasses, and one way to name a file inside the installed package (`sciinstruct:`).

A stage's config dataclass declares each setting once: its type, default, help text
(`metadata={"help": ...}`) and, in `__post_init__`, its checks. `build` turns a YAML mapping into
that dataclass: unknown keys are an error with a "did you mean", nested sections build their own
dataclasses, and values are converted by the declared type, so `learning_rate: 2e-5` (which
YAML 1.1 reads as the string "2e-5") arrives as the float 2e-05.
"""

from __future__ import annotations

import dataclasses
import logging
import types
import typing
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml

from sciinstruct.errors import InputError, did_you_mean

PACKAGE_PREFIX = "sciinstruct:"
T = TypeVar("T")


def package_path(relative: str) -> Path:
    """A file shipped inside the package, e.g. `package_path("data/questions/eval_set.jsonl")`."""
    return Path(str(resources.files("sciinstruct").joinpath(relative)))


def resolve_path(value: str | Path, base: Path | None = None) -> Path:
    """`sciinstruct:data/x.jsonl` -> the file inside the package; relative paths from `base`."""
    text = str(value)
    if text.startswith(PACKAGE_PREFIX):
        return package_path(text[len(PACKAGE_PREFIX) :])
    path = Path(text).expanduser()
    if not path.is_absolute() and base is not None:
        path = base / path
    return path


def load_yaml(path: str | Path, what: str = "file") -> dict[str, Any]:
    """A YAML file's top-level mapping; a missing file, bad YAML or a non-mapping is an
    InputError naming the file (and the line, for a syntax error)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no such {what}", file=str(path))
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(
            f"invalid YAML: {getattr(exc, 'problem', None) or exc}",
            file=str(path),
            line=mark.line + 1 if mark else None,
        ) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(
            f"expected a mapping of settings, got {type(data).__name__}", file=str(path)
        )
    return data


def parse_assignments(pairs: list[str] | None, flag: str = "--set") -> dict[str, Any]:
    """`["lora_r=8", "rewards=[format]"]` -> `{"lora_r": 8, "rewards": ["format"]}`: values are
    read as YAML (8 -> int, true -> bool, [a, b] -> list), keys may be dotted (`train.max_steps`)."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"{flag}: expected KEY=VALUE, e.g. max_steps=5; got {pair!r}")
        try:
            out[key.strip()] = yaml.safe_load(raw) if raw else ""
        except yaml.YAMLError as exc:
            raise InputError(f"{flag} {key}: value is not valid YAML ({exc})") from exc
    return out


def set_dotted(data: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """`{"train.max_steps": 5}` written into the nested mapping `data` (in place; returned)."""
    for dotted, value in overrides.items():
        node = data
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return data


def help_text(f: dataclasses.Field) -> str:
    """A field's declared help (`metadata={"help": ...}`), or ""."""
    return str(f.metadata.get("help", ""))


def bound_error(name: str, f: dataclasses.Field, value: Any) -> str | None:
    """Why `value` breaks the bounds `f` declares (`metadata` keys `min`, `max` inclusive, `gt`,
    `lt` exclusive, `choices`), as `"<name> must be ..., got ..."`; None when it fits. `name` is
    the field's name for a recipe and its flag for the command line, so both say the same."""
    meta = f.metadata
    if value is None:
        return None
    choices = meta.get("choices")
    if choices is not None and value not in choices:
        return f"{name} must be one of {', '.join(map(str, choices))}; got {value!r}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    low = ("[", meta["min"]) if "min" in meta else ("(", meta["gt"]) if "gt" in meta else None
    high = ("]", meta["max"]) if "max" in meta else (")", meta["lt"]) if "lt" in meta else None
    fits = (low is None or (value >= low[1] if low[0] == "[" else value > low[1])) and (
        high is None or (value <= high[1] if high[0] == "]" else value < high[1])
    )
    if fits:
        return None
    if low and high:
        rule = f"in {low[0]}{low[1]}, {high[1]}{high[0]}"
    elif low:
        rule = f"{'>=' if low[0] == '[' else '>'} {low[1]}"
    else:
        assert high is not None
        rule = f"{'<=' if high[0] == ']' else '<'} {high[1]}"
    return f"{name} must be {rule}, got {value!r}"


def check_declared(obj: Any) -> None:
    """Refuse a field of the dataclass instance `obj` outside its declared bounds (InputError
    naming the field); a config's `__post_init__` calls it before its cross-field rules."""
    for f in dataclasses.fields(obj):
        reason = bound_error(f.name, f, getattr(obj, f.name))
        if reason:
            raise InputError(reason, field=f.name)


def option(default: Any = None, help: str = "", **meta: Any) -> Any:
    """A config field declared once: its default, help and bounds (`min`, `max`, `gt`, `lt`,
    `choices`) and, for the command line, `flag` (`"--lr"`), `short` (`"-k"`) or `cli=False`.
    A list default is copied per instance."""
    metadata = {"help": help, **meta}
    if isinstance(default, list | dict):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def type_members(kind: Any) -> tuple[Any, ...]:
    """The members of a union (`X | None`, `Optional[X]`), or the type itself."""
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        return typing.get_args(kind)
    return (kind,)


def dataclass_of(kind: Any) -> type | None:
    """The dataclass inside a type hint such as `X`, `X | None` or `Optional[X]`."""
    for member in type_members(kind):
        if dataclasses.is_dataclass(member) and isinstance(member, type):
            return member
    return None


def is_sequence_type(kind: Any) -> bool:
    """list[str], tuple[str, ...] and their Optional forms."""
    return any(typing.get_origin(m) in (list, tuple) for m in type_members(kind))


def convert(value: Any, kind: Any) -> Any:
    """`value` as the declared `kind`: numbers from YAML strings ("2e-5"), ints to floats, one
    item to a list. Values that do not fit are returned unchanged for the dataclass's own
    checks (or TypeError) to refuse; a string that is not a number raises ValueError."""
    members = type_members(kind)
    if value is None:
        return None
    if (
        isinstance(value, str)
        and str not in members  # `list[str] | str` (LoRA's `all-linear`) keeps the string
        and any(typing.get_origin(m) in (list, tuple) for m in members)
    ):
        value = [value]  # `stages: cot` means [cot], not ['c', 'o', 't']
    if isinstance(value, list) and any(typing.get_origin(m) is tuple for m in members):
        return tuple(value)  # a frozen config's `tuple[str, ...]` stays a tuple (hashable)
    if isinstance(value, list):
        return value
    if isinstance(value, bool) or str in members or Any in members:
        return value
    if float in members and isinstance(value, int | str):
        try:
            return float(value)
        except ValueError:
            raise ValueError(f"expected a number, got {value!r}") from None
    if int in members and isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            raise ValueError(f"expected an integer, got {value!r}") from None
    return value


def resolve_package_paths(config: T) -> T:
    """`config` (a dataclass instance) with every `sciinstruct:` string in it, nested sections
    and sequences included, replaced by the path of that file inside the package. The stage
    runner calls it for the command line and a recipe alike, so `--prompts
    sciinstruct:prompts/concise` means on the command line what it means in a recipe."""
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(config):  # type: ignore[arg-type]
        value = getattr(config, f.name)
        new = _resolved(value)
        if new is not value:
            changes[f.name] = new
    return dataclasses.replace(config, **changes) if changes else config  # type: ignore[type-var]


def _resolved(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(PACKAGE_PREFIX):
        return str(package_path(value[len(PACKAGE_PREFIX) :]))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return resolve_package_paths(value)
    if isinstance(value, list | tuple):
        items = [_resolved(v) for v in value]
        if any(new is not old for new, old in zip(items, value, strict=True)):
            return type(value)(items)
    return value


@dataclasses.dataclass(frozen=True)
class OldKey:
    """A key a config class no longer declares, listed in its `OLD_KEYS` table: `new` is its
    name now. A `read` key is still read, as `new`, with a deprecation warning; any other is
    refused with the new name in the error (a key whose meaning moved, such as TRL's renamed
    fields, must not be half-read)."""

    new: str
    read: bool


def deprecated(new: str) -> OldKey:
    """An old key still read as `new`, with a warning."""
    return OldKey(new, read=True)


def retired(new: str) -> OldKey:
    """An old key refused, naming `new`."""
    return OldKey(new, read=False)


def _old_keys(cls: type) -> dict[str, OldKey]:
    return getattr(cls, "OLD_KEYS", {})


def _read_old_keys(cls: type, data: dict[str, Any], file: str | None, where: str) -> dict[str, Any]:
    """`data` with the deprecated keys of `cls` renamed, each with a warning that names the
    new key; both given is an error. Retired keys are left for `check_keys` to refuse."""
    table = _old_keys(cls)
    old_keys = [key for key in data if key in table and table[key].read]
    if not old_keys:
        return data
    data = dict(data)
    for old in old_keys:
        new = table[old].new
        path = f"{where}.{old}".lstrip(".")
        if new in data:
            raise InputError(f"give `{new}` only (`{old}` is its old name)", file=file, field=path)
        data[new] = data.pop(old)
        # `log` sits beside `settings` in the layers: its logger, by name
        logging.getLogger("sciinstruct").warning(
            "%s%s is deprecated: write `%s`", f"{file}: " if file else "", path, new
        )
    return data


def check_keys(cls: type, data: Any, file: str | None = None, where: str = "") -> None:
    """Refuse a key `cls` does not declare, with the nearest field name as a hint, and a
    retired key (`OLD_KEYS`) with its new name; a deprecated one passes (`build` reads it)."""
    names = [f.name for f in dataclasses.fields(cls)]
    table = _old_keys(cls)
    for key in data:
        path = f"{where}.{key}".lstrip(".")
        if key in table:
            if not table[key].read:
                raise InputError(
                    f"`{key}` was renamed: use `{table[key].new}`", file=file, field=path
                )
            continue
        if key not in names:
            hint = did_you_mean(str(key), names) or f"expected one of {sorted(names)}"
            raise InputError(f"unknown key ({hint})", file=file, field=path)


def build(cls: type[T], data: Any, where: str = "", file: str | None = None) -> T:
    """The dataclass `cls` from a mapping (a YAML file's section): unknown keys refused with a
    "did you mean" (a class's `OLD_KEYS`: deprecated ones read with a warning, retired ones
    refused with the new name), values
    converted by declared type, nested dataclasses built recursively, and the class's own
    checks reported as InputErrors located at the file and dotted field."""
    if not isinstance(data, dict):
        raise InputError(
            f"expected a mapping, got {type(data).__name__}", file=file, field=where or None
        )
    check_keys(cls, data, file, where)
    data = _read_old_keys(cls, data, file, where)
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{where}.{key}".lstrip(".")
        kind = hints[key]
        nested = dataclass_of(kind)
        if nested and value is None:  # `critique:` with nothing under it: the defaults
            value = {}
        if nested and isinstance(value, dict):
            kwargs[key] = build(nested, value, path, file)
            continue
        try:
            kwargs[key] = convert(value, kind)
        except ValueError as exc:
            raise InputError(str(exc), file=file, field=path) from exc
    try:
        return cls(**kwargs)
    except InputError as exc:  # a stage's own check: add the file and section to it
        field = ".".join(p for p in (where.lstrip("."), exc.field or "") if p) or None
        raise InputError(exc.reason, file=file, field=field) from exc
    except (TypeError, ValueError) as exc:
        raise InputError(str(exc), file=file, field=where or None) from exc
