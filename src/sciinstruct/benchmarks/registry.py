"""Benchmarks as data: one small YAML file per benchmark, found by name.

A definition says where the data comes from (a local file, or a Hugging Face dataset id and split
for documentation and `load_from_disk`), which loader reads its published format, how a question
becomes a prompt (template, few-shot examples), how the answer is graded, and a version. A variant
`include:`s a base file and overrides a few keys, e.g. `mmlu_physics.yaml` restricts
`mmlu_science.yaml` to the physics subsets. Users add a benchmark by writing a YAML file, either
passed by path or placed in a directory listed in `$SCIINSTRUCT_BENCHMARKS`.

Merging: top-level keys of the including file replace those of the base; the `source` mapping is
merged key by key, so a variant can change only the split.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sciinstruct.errors import InputError, did_you_mean
from sciinstruct.records import AnswerType
from sciinstruct.settings import package_path

# Files whose name starts with "_" are bases for `include:`, not benchmarks of their own.
_BASE_PREFIX = "_"
# Data files accepted as an ad-hoc benchmark of questions in the sciinstruct schema.
QUESTION_FILE_SUFFIXES = (".jsonl", ".json", ".csv", ".parquet")


class Source(BaseModel):
    """Where the data lives and where to get it."""

    model_config = ConfigDict(extra="forbid")

    path: str | None = (
        None  # relative to the data dir, absolute, or "sciinstruct:<path in the package>"
    )
    hf: str | None = None  # Hugging Face dataset id, e.g. "openai/gsm8k"
    hf_config: str | None = None
    split: str = "test"
    url: str | None = None  # where a user downloads the published files


class FewShot(BaseModel):
    """A worked example shown before the question: the question and a solution ending in the answer."""

    model_config = ConfigDict(extra="forbid")

    question: str
    solution: str
    choices: list[str] | None = None


class BenchmarkSpec(BaseModel):
    """A benchmark definition; unknown keys are an error so a typo in YAML fails loudly."""

    model_config = ConfigDict(extra="forbid")

    name: str
    version: int = 1
    description: str = ""
    format: str  # the loader of sciinstruct.benchmarks.loaders that reads the published files
    source: Source
    fields: dict[str, str] = Field(
        default_factory=dict
    )  # Question field -> column (generic formats)
    subject: str | None = None  # subject of every row when the data has none
    subsets: dict[str, str] | None = None  # published subset -> subject; others are skipped
    subjects: list[str] | None = None  # keep only these subjects
    answer_type: AnswerType = "auto"
    rtol: float = 0.01  # relative tolerance of numeric answers (SciBench uses 5%)
    mode: Literal["graded", "judged"] = "graded"
    system: str | None = None
    template: str  # "{question}" and "{choices}" are filled in; other braces are left alone
    fewshot: list[FewShot] = Field(default_factory=list)
    max_tokens: int = 512
    judge_template: str | None = None  # judged mode: {question}, {reference}, {answer}
    include: str | None = None  # resolved at load time; kept for the record
    file: str | None = None  # the YAML file this came from


def builtin_dir() -> Path:
    """The directory of the shipped definitions (`sciinstruct/benchmarks`)."""
    return package_path("benchmarks")


def search_dirs() -> list[Path]:
    """Shipped definitions plus the directories of `$SCIINSTRUCT_BENCHMARKS` (os.pathsep-separated)."""
    extra = [Path(p) for p in os.environ.get("SCIINSTRUCT_BENCHMARKS", "").split(os.pathsep) if p]
    return [*extra, builtin_dir()]


def available() -> dict[str, Path]:
    """Benchmark name -> definition file; a user's directory shadows a shipped definition."""
    found: dict[str, Path] = {}
    for directory in reversed(search_dirs()):
        for path in sorted(directory.glob("*.yaml")):
            if not path.name.startswith(_BASE_PREFIX):
                found[path.stem] = path
    return dict(sorted(found.items()))


def _read_yaml(path: Path, chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Read one definition and the files it includes, base first."""
    if path in chain:
        cycle = " -> ".join(p.name for p in (*chain, path))
        raise InputError(f"include cycle: {cycle}", file=str(path), field="include")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise InputError(f"not valid YAML ({exc})", file=str(path)) from exc
    if not isinstance(data, dict):
        raise InputError("expected a mapping of keys to values", file=str(path))
    include = data.get("include")
    if not include:
        return data
    base_path = (path.parent / include).resolve()
    if not base_path.exists():
        raise InputError(
            f"included file {base_path} does not exist", file=str(path), field="include"
        )
    base = _read_yaml(base_path, (*chain, path))
    merged = {**base, **data}
    merged["source"] = {**(base.get("source") or {}), **(data.get("source") or {})}
    return merged


def load_spec(path: str | Path) -> BenchmarkSpec:
    """Read a definition file (following `include:`) and validate it."""
    path = Path(path).resolve()
    if not path.exists():
        raise InputError("benchmark definition not found", file=str(path))
    data = _read_yaml(path)
    data.setdefault("name", path.stem)
    data["file"] = str(path)
    try:
        return BenchmarkSpec.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(first["msg"], file=str(path), field=where) from exc


def spec_for_question_file(path: Path) -> BenchmarkSpec:
    """An ad-hoc benchmark over a file of questions in the sciinstruct schema."""
    base = load_spec(available()["sciinstruct_eval"])
    return base.model_copy(
        update={"name": path.stem, "source": Source(path=str(path.resolve())), "file": None}
    )


def get_spec(name_or_file: str) -> BenchmarkSpec:
    """A registered benchmark by name, a YAML definition by path, or a question file by path.

    A name that is not registered answers with the closest names ("did you mean ...?").
    """
    path = Path(name_or_file)
    if path.suffix in (".yaml", ".yml"):
        return load_spec(path)
    if path.suffix in QUESTION_FILE_SUFFIXES:
        if not path.exists():
            raise InputError("question file not found", file=str(path))
        return spec_for_question_file(path)
    names = available()
    if name_or_file in names:
        return load_spec(names[name_or_file])
    hint = did_you_mean(name_or_file, names, n=3, cutoff=0.5)
    hint = f"{hint} " if hint else ""
    raise InputError(
        f"unknown benchmark {name_or_file!r}; {hint}"
        f"known: {', '.join(names)} (or pass a .yaml definition or a .jsonl of questions)",
        field="benchmark",
    )
