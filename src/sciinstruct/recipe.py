"""Recipes: one YAML file that drives the whole flow (`sciinstruct run RECIPE.yaml`).

A recipe names the questions, the engine (`backend:`, an `llm.EngineSpec`), and the options of
each stage. Its sections are the stages' own config dataclasses, so a key means the same in a
recipe as on the stage's command line. Unknown keys are an error with a "did you mean" hint, so a typo never
silently falls back to a default. Paths starting with `sciinstruct:` point inside the installed
package (the bundled data).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sciinstruct.annotate import AnnotateConfig, StagePlan
from sciinstruct.critique import CritiqueConfig
from sciinstruct.curate import CurateConfig, FilterConfig
from sciinstruct.distributed.config import ExecutorConfig
from sciinstruct.errors import InputError
from sciinstruct.evaluate import EvalConfig
from sciinstruct.export import ExportOptions
from sciinstruct.llm import EngineSpec
from sciinstruct.settings import build, load_yaml, resolve_path, set_dotted
from sciinstruct.train import SFTTrainConfig

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
    # the engine the base and the tuned model run on: a spec, or just the backend's name
    # (`backend: transformers`). transformers loads each model's directory; llama.cpp
    # (`embedded`, `llamacpp`) runs its GGUF for the base and the GGUF plus the trained LoRA
    # adapter for the tuned model (`evaluate.engines`)
    backend: EngineSpec = field(default_factory=lambda: EngineSpec(name="transformers"))
    config: EvalConfig = field(default_factory=lambda: EvalConfig(max_tokens=256))
    # The base model's engine where it is not `backend` (left empty: `backend`), e.g.
    # `{name: embedded}`: the GGUF file the default train.model is dequantised from, on the
    # batched llama.cpp engine. Its `model` is used as given (none: the engine's own). The two
    # models then differ in engine too (quantised arithmetic against dequantised weights in
    # torch), and the paired test cannot tell that apart from training: to run both on
    # llama.cpp, set `backend` to it instead.
    base_backend: EngineSpec = field(default_factory=lambda: EngineSpec(name=None))

    def __post_init__(self) -> None:
        if isinstance(self.backend, str):
            self.backend = EngineSpec(name=self.backend)
        if isinstance(self.base_backend, str):
            self.base_backend = EngineSpec(name=self.base_backend)


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
    # the engine of annotate and critique: `{name: openai, base_url: ..., concurrency: 64}`
    backend: EngineSpec = field(default_factory=EngineSpec)
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
        _refuse_throughput_keys(self)


# How hard a stage drives its engine is the engine's (`backend.batch_size`,
# `backend.concurrency`); these stage fields are set from it by the stage runner.
_DRIVEN = (
    ("annotate", ("batch_size", "concurrency"), "backend"),
    ("critique", ("batch_size", "concurrency"), "backend"),
    ("eval.config", ("batch_size",), "eval.backend"),
)


def _refuse_throughput_keys(recipe: Recipe) -> None:
    for section, names, engine in _DRIVEN:
        config: Any = recipe
        for part in section.split("."):
            config = getattr(config, part)
        defaults = {f.name: f.default for f in dataclasses.fields(config)}
        for name in names:
            if getattr(config, name) != defaults[name]:
                raise InputError(
                    f"set `{engine}.{name}` instead: the engine decides how hard it is driven",
                    field=f"{section}.{name}",
                )


def load_recipe(path: str | Path, overrides: dict[str, Any] | None = None) -> Recipe:
    """Read a recipe file; `overrides` (dotted keys) win over the file, e.g. {"train.max_steps": 5}."""
    path = resolve_path(path)
    data = set_dotted(load_yaml(path, "recipe"), overrides or {})
    return build(Recipe, data, "", str(path))
