"""Recipes: one YAML file that drives the whole flow (`sciinstruct run RECIPE.yaml`).

A recipe names the questions, the backend and model, and the options of each stage. Its
sections are the stages' own config dataclasses, so a key means the same in a recipe as on the
stage's command line. Unknown keys are an error with a "did you mean" hint, so a typo never
silently falls back to a default. Paths starting with `sciinstruct:` point inside the installed
package (the bundled data).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from sciinstruct.annotate import AnnotateConfig, StagePlan
from sciinstruct.critique import CritiqueConfig
from sciinstruct.curate import CurateConfig, FilterConfig
from sciinstruct.distributed.config import ExecutorConfig
from sciinstruct.errors import InputError, did_you_mean
from sciinstruct.evaluate import EvalConfig
from sciinstruct.export import ExportOptions
from sciinstruct.train import SFTTrainConfig

PACKAGE_PREFIX = "sciinstruct:"
FLOW_STAGES = (
    "ingest",
    "annotate",
    "critique",
    "filter",
    "curate",
    "export",
    "train",
    "eval",
    "report",
)


def resolve_path(value: str | Path, base: Path | None = None) -> Path:
    """`sciinstruct:data/x.jsonl` -> the file inside the package; relative paths from `base`."""
    text = str(value)
    if text.startswith(PACKAGE_PREFIX):
        return Path(str(resources.files("sciinstruct").joinpath(text[len(PACKAGE_PREFIX) :])))
    path = Path(text).expanduser()
    if not path.is_absolute() and base is not None:
        path = base / path
    return path


@dataclass
class BackendSpec:
    """Which LLM writes and judges solutions. For a vLLM server: name `openai`, options.base_url."""

    name: str = "embedded"
    model: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class GenerateSpec:
    """Verifiable questions made from templates and added to the bank (seeded, reproducible)."""

    families: list[str] = field(default_factory=list)
    n: int = 0  # per family
    seed: int = 0


@dataclass
class ExportSpec:
    formats: list[str] = field(default_factory=lambda: ["sft"])
    options: ExportOptions = field(default_factory=ExportOptions)


@dataclass
class EvalSpec:
    """Held-out evaluation of the base and the tuned model with one engine, so they compare."""

    # Question files or benchmark names; each is reported on its own and compared question by
    # question between the two models (McNemar).
    questions: list[str] = field(
        default_factory=lambda: ["sciinstruct:data/questions/demo_heldout.jsonl"]
    )
    backend: str = "transformers"
    config: EvalConfig = field(default_factory=lambda: EvalConfig(max_tokens=256))


def _default_annotate() -> AnnotateConfig:
    return AnnotateConfig(plan=StagePlan(samples=1, max_tokens=256))


@dataclass
class Recipe:
    run_dir: str = "demo-run"
    questions: list[str] = field(
        default_factory=lambda: ["sciinstruct:data/questions/demo_train.jsonl"]
    )
    limit: int | None = None  # annotate at most this many questions (a quick run)
    stages: list[str] = field(default_factory=lambda: list(FLOW_STAGES))
    backend: BackendSpec = field(default_factory=BackendSpec)
    # where annotate, critique and eval run their engines and grading: `{name: ray, actors: 4}`
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)
    generate: GenerateSpec = field(default_factory=GenerateSpec)
    annotate: AnnotateConfig = field(default_factory=_default_annotate)
    critique: CritiqueConfig = field(default_factory=CritiqueConfig)
    filter: FilterConfig = field(default_factory=FilterConfig)
    curate: CurateConfig = field(default_factory=CurateConfig)
    export: ExportSpec = field(default_factory=ExportSpec)
    train: SFTTrainConfig = field(default_factory=lambda: SFTTrainConfig(max_steps=60))
    eval: EvalSpec = field(default_factory=EvalSpec)

    def __post_init__(self) -> None:
        if self.limit is not None and self.limit < 1:
            raise InputError(f"must be >= 1, got {self.limit}", field="limit")
        unknown = [s for s in self.stages if s not in FLOW_STAGES]
        if unknown:
            raise InputError(
                f"unknown stage(s) {unknown}: expected some of {', '.join(FLOW_STAGES)}",
                field="stages",
            )


def _dataclass_of(kind: Any) -> type | None:
    """The dataclass inside a type hint such as `X`, `X | None` or `Optional[X]`."""
    if dataclasses.is_dataclass(kind):
        return kind
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        for arg in typing.get_args(kind):
            if dataclasses.is_dataclass(arg):
                return arg
    return None


def _is_sequence_type(kind: Any) -> bool:
    """list[str], tuple[str, ...] and their Optional forms."""
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        return any(_is_sequence_type(arg) for arg in typing.get_args(kind))
    return typing.get_origin(kind) in (list, tuple)


def _build(cls: type, data: Any, where: str, file: str) -> Any:
    if not isinstance(data, dict):
        raise InputError(
            f"expected a mapping, got {type(data).__name__}", file=file, field=where or None
        )
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{where}.{key}".lstrip(".")
        if key not in names:
            hint = did_you_mean(str(key), sorted(names)) or f"expected one of {sorted(names)}"
            raise InputError(f"unknown key ({hint})", file=file, field=path)
        kind = hints[key]
        nested = _dataclass_of(kind)
        if nested and value is None:  # `critique:` with nothing under it: the defaults
            value = {}
        if isinstance(value, str) and _is_sequence_type(kind):
            value = [value]  # `stages: cot` means [cot], not ['c', 'o', 't']
        kwargs[key] = (
            _build(nested, value, path, file) if nested and isinstance(value, dict) else value
        )
    try:
        return cls(**kwargs)
    except InputError as exc:  # a stage's own check: add the recipe file and section to it
        field = ".".join(p for p in (where.lstrip("."), exc.field or "") if p) or None
        raise InputError(exc.reason, file=file, field=field) from exc
    except (TypeError, ValueError) as exc:
        raise InputError(str(exc), file=file, field=where or None) from exc


def load_recipe(path: str | Path, overrides: dict[str, Any] | None = None) -> Recipe:
    """Read a recipe file; `overrides` (dotted keys) win over the file, e.g. {"train.max_steps": 5}."""
    path = resolve_path(path)
    if not path.exists():
        raise InputError("no such recipe", file=str(path))
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(
            f"invalid YAML: {getattr(exc, 'problem', exc)}",
            file=str(path),
            line=mark.line + 1 if mark else None,
        ) from exc
    for dotted, value in (overrides or {}).items():
        node = data
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return _build(Recipe, data, "", str(path))
