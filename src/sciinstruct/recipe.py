"""Recipes: one YAML file that drives the whole flow (`sciinstruct run RECIPE.yaml`).

A recipe names the questions, the backend and model, and the options of each stage. Unknown keys
are an error with a "did you mean" hint, so a typo never silently falls back to a default.
Paths starting with `sciinstruct:` point inside the installed package (the bundled data).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field, fields, is_dataclass
from importlib import resources
from pathlib import Path
from typing import Any, get_type_hints

import yaml

from sciinstruct.errors import InputError

PACKAGE_PREFIX = "sciinstruct:"


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
    """Which LLM writes (and judges) solutions. For vLLM: name: openai, options.base_url."""

    name: str = "embedded"
    model: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class GenerateSpec:
    """Verifiable questions made from templates, added to the bank (seeded, reproducible)."""

    families: list[str] = field(default_factory=list)
    n: int = 0
    seed: int = 0


@dataclass
class AnnotateSpec:
    stages: list[str] = field(default_factory=lambda: ["cot", "reflect", "hinted"])
    samples: int = 1
    temperature: float = 0.7
    max_tokens: int = 256
    concurrency: int = 8
    language: str = "en"
    seed: int = 0


@dataclass
class CritiqueSpec:
    enabled: bool = True
    limit: int | None = None
    max_tokens: int = 128


@dataclass
class FilterSpec:
    enabled: bool = True
    model: str = "tfidf"
    threshold: float | None = None
    top_fraction: float | None = None


@dataclass
class CurateSpec:
    max_per_question: int = 2
    hinted: str = "keep"  # keep | downweight | drop
    benchmarks: list[str] = field(default_factory=list)
    general_data: str | None = None
    general_ratio: float = 0.0


@dataclass
class TrainSpec:
    enabled: bool = True
    kind: str = "sft"
    model: str | None = None  # None: the embedded model
    max_steps: int = 60
    learning_rate: float = 2e-4
    lora: bool = True
    batch_size: int = 8
    max_length: int = 384
    epochs: float = 1.0
    seed: int = 0


@dataclass
class EvalSpec:
    enabled: bool = True
    questions: str = "sciinstruct:data/questions/demo_heldout.jsonl"
    limit: int | None = None
    max_tokens: int = 256
    backend: str = "transformers"  # base and tuned are evaluated with the same engine


@dataclass
class Recipe:
    run_dir: str = "demo-run"
    questions: list[str] = field(
        default_factory=lambda: ["sciinstruct:data/questions/demo_train.jsonl"]
    )
    limit: int | None = None  # take at most this many questions (a quick run)
    backend: BackendSpec = field(default_factory=BackendSpec)
    generate: GenerateSpec = field(default_factory=GenerateSpec)
    annotate: AnnotateSpec = field(default_factory=AnnotateSpec)
    critique: CritiqueSpec = field(default_factory=CritiqueSpec)
    filter: FilterSpec = field(default_factory=FilterSpec)
    curate: CurateSpec = field(default_factory=CurateSpec)
    train: TrainSpec = field(default_factory=TrainSpec)
    eval: EvalSpec = field(default_factory=EvalSpec)

    def __post_init__(self) -> None:
        if self.limit is not None and self.limit < 1:
            raise InputError(f"limit must be >= 1, got {self.limit}", field="limit")
        if self.curate.hinted not in ("keep", "downweight", "drop"):
            raise InputError(
                f"curate.hinted must be keep, downweight or drop, got '{self.curate.hinted}'",
                field="curate.hinted",
            )
        unknown = set(self.annotate.stages) - {"cot", "reflect", "hinted"}
        if unknown:
            raise InputError(
                f"unknown annotate stage(s) {sorted(unknown)}: expected cot, reflect, hinted",
                field="annotate.stages",
            )


def _build(cls: type, data: Any, where: str, file: str) -> Any:
    if not isinstance(data, dict):
        raise InputError(
            f"expected a mapping, got {type(data).__name__}", file=file, field=where or None
        )
    hints = get_type_hints(cls)
    names = {f.name for f in fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in names:
            close = difflib.get_close_matches(str(key), sorted(names), n=1)
            hint = (
                f" (did you mean '{close[0]}'?)"
                if close
                else f" (expected one of {', '.join(sorted(names))})"
            )
            raise InputError(f"unknown key{hint}", file=file, field=f"{where}.{key}".lstrip("."))
        kind = hints[key]
        kwargs[key] = _build(kind, value, f"{where}.{key}", file) if is_dataclass(kind) else value
    return cls(**kwargs)


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
