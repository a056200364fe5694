"""Turn each benchmark's published files into Questions.

No data set is downloaded: every loader reads the format its benchmark is published in from a
local path (`--data-dir`, `$SCIINSTRUCT_DATA`, or ~/.cache/sciinstruct/data), and a missing file
answers with where to get it and where to put it. A loader is a function from raw rows to
Questions; the container (JSONL, JSON, CSV, a saved Hugging Face dataset) is read by `sciinstruct.rows`.
Every Question records its published subset in `metadata["subset"]`, which the definition's
`subsets:` maps to a subject.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from sciinstruct import settings
from sciinstruct.benchmarks.readers import FORMATS
from sciinstruct.benchmarks.registry import BenchmarkSpec
from sciinstruct.embedded_model import cache_home
from sciinstruct.errors import InputError
from sciinstruct.records import Question
from sciinstruct.rows import Row, files_under, is_hf_saved_dataset, read_rows

DATA_ENV = "SCIINSTRUCT_DATA"


def data_dir(explicit: str | Path | None = None) -> Path:
    """Where benchmark data lives: `--data-dir`, else $SCIINSTRUCT_DATA, else the cache."""
    if explicit:
        return Path(explicit)
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV])
    return cache_home() / "data"


def resolve_path(spec: BenchmarkSpec, root: Path) -> Path:
    """The local path of a benchmark's data, or an error that says how to get it there."""
    source = spec.source
    path = settings.resolve_path(source.path, root) if source.path else root / spec.name
    if path.exists():
        return path
    hf_dir = root / "hf" / (source.hf or spec.name).replace("/", "__")
    if is_hf_saved_dataset(hf_dir):
        return hf_dir
    get = f"download it from {source.url}" if source.url else "get the published files"
    if source.hf:
        get += f" (Hugging Face: {source.hf}"
        get += f", config {source.hf_config}" if source.hf_config else ""
        get += f", split {source.split}; or save it with `save_to_disk` into {hf_dir})"
    raise InputError(
        f"benchmark {spec.name!r}: data not found at {path}. To use it, {get} and put it at "
        f"{path}, or pass --data-dir (or set ${DATA_ENV}) to the directory that holds "
        f"{source.path or spec.name!r}"
    )


def _raw_rows(spec: BenchmarkSpec, path: Path) -> Iterator[Row]:
    _, pattern, columns = FORMATS[spec.format]
    if is_hf_saved_dataset(path):
        yield from read_rows(path, split=spec.source.split)
        return
    for file in files_under(path, pattern):
        if file.name.endswith("_sol.json"):  # SciBench: the solution subsets repeat problems
            continue
        if spec.format in ("mmlu", "ceval") and not file.stem.endswith(f"_{spec.source.split}"):
            continue  # another split's file in the same tree
        yield from read_rows(file, split=spec.source.split, columns=columns)


def _select(questions: Iterable[Question], spec: BenchmarkSpec) -> Iterator[Question]:
    """Apply the definition: subsets -> subjects, the subject filter, the default answer type."""
    for question in questions:
        subset = str(question.metadata.get("subset", ""))
        if spec.subsets is not None:
            if subset not in spec.subsets:
                continue
            question.subject = spec.subsets[subset].lower()
        elif spec.subject and question.subject == "unknown":
            question.subject = spec.subject.lower()
        if spec.subjects is not None and question.subject not in spec.subjects:
            continue
        if question.answer_type == "auto":
            question.answer_type = spec.answer_type
        yield question


def load_benchmark(
    spec: BenchmarkSpec, data_root: str | Path | None = None, limit: int | None = None
) -> list[Question]:
    """The questions of a benchmark, in file order, the first `limit` of them if given."""
    if spec.format not in FORMATS:
        raise InputError(
            f"unknown format {spec.format!r}; known: {', '.join(FORMATS)}",
            file=spec.file,
            field="format",
        )
    path = resolve_path(spec, data_dir(data_root))
    questions: list[Question] = []
    for question in _select(FORMATS[spec.format][0](_raw_rows(spec, path), spec), spec):
        questions.append(question)
        if limit is not None and len(questions) >= limit:
            break
    if not questions:
        raise InputError(f"benchmark {spec.name!r}: no questions found under {path}")
    return questions
