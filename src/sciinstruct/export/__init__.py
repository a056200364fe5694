"""`sciinstruct export`: curated samples to sft / rft / dpo / grpo files and a dataset card.

Reads RUN/samples.jsonl (written by `curate`), questions, attempts, critiques and the side file;
writes RUN/export/{format}.jsonl and .parquet, RUN/export/README.md and stats.json's `export`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import chain
from typing import Any

from sciinstruct.curate import (
    Override,
    apply_overrides,
    critique_scores,
    iter_attempts,
    iter_records,
    latest_overrides,
    source_attempt,
)
from sciinstruct.errors import InputError
from sciinstruct.export.card import card_text, format_stats
from sciinstruct.export.chat_formats import (
    FORMATS,
    ExportOptions,
    dpo_rows,
    grpo_rows,
    rft_rows,
    sft_rows,
)
from sciinstruct.export.writer import write_format
from sciinstruct.jsonl import read_jsonl
from sciinstruct.records import Attempt, Question, Sample
from sciinstruct.rundir import RunDir, writes_run
from sciinstruct.scratch import DiskDict, scratch_db

__all__ = ["FORMATS", "ExportOptions", "export_run"]


def _capped_samples(run: RunDir) -> Iterator[Sample]:
    """Samples curate dropped only for its per-question cap: still good solutions, for rft."""
    for row in read_jsonl(run.dropped):
        if row.get("stage") == "curate" and row["reason"] == "over_question_cap":
            yield Sample.model_validate(row["record"])


def _without_overruled(
    samples: Iterable[Sample], overrides: dict[str, Override]
) -> Iterator[Sample]:
    for sample in samples:
        override = overrides.get(source_attempt(sample) or "")
        if override is None or override.correct:
            yield sample


def _build(
    run: RunDir, fmt: str, options: ExportOptions, db: sqlite3.Connection
) -> Iterator[dict[str, Any]]:
    """One format's rows, read from the run's files as they are written out."""
    if fmt == "grpo":
        gone = DiskDict(db, "dropped_question")
        for row in read_jsonl(run.dropped):
            if row.get("kind") == "question":
                gone.add(row["id"])
        questions = iter_records(run.questions, Question)
        return grpo_rows((q for q in questions if q.id not in gone), options)
    if not run.samples.exists():
        raise InputError("no samples.jsonl: run `sciinstruct curate` first", file=str(run.samples))
    # Overrides made since `curate` ran count too: a solution a reviewer marked wrong is never
    # exported (one marked correct needs `curate` to become a sample: dedup and caps apply).
    overrides = latest_overrides(run)
    samples = _without_overruled(iter_records(run.samples, Sample), overrides)
    if fmt == "sft":
        return sft_rows(samples, options)
    if fmt == "rft":
        capped = _without_overruled(_capped_samples(run), overrides)
        return rft_rows(chain(samples, capped), options, db)
    attempts: Iterable[Attempt] = iter_attempts(run.attempts)  # read once, not held
    if overrides:
        attempts = apply_overrides(attempts, overrides)
    questions = iter_records(run.questions, Question)
    critiques = critique_scores(run.critiques, db)
    return dpo_rows(questions, samples, attempts, critiques, options, db)


def _order(formats: Sequence[str]) -> Callable[[str], tuple[int, int]]:
    """Formats on the card: those exported earlier first, then this call's (as before)."""
    mine = list(dict.fromkeys(formats))
    return lambda fmt: (1, mine.index(fmt)) if fmt in mine else (0, FORMATS.index(fmt))


@writes_run("export")
def export_run(
    run: RunDir,
    formats: Sequence[str] = ("sft",),
    options: ExportOptions = ExportOptions(),
    parquet: bool = True,
) -> dict[str, Any]:
    """Write each format's files and the dataset card; return the `export` stats section."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise InputError(
            f"unknown export format {unknown[0]!r}: expected one of {', '.join(FORMATS)}"
        )
    # One format at a time, streamed: built, written and counted one row at a time.
    files: dict[str, list[str]] = {}
    stats: dict[str, dict[str, Any]] = {}
    run.export_dir.mkdir(parents=True, exist_ok=True)
    for fmt in dict.fromkeys(formats):
        with scratch_db(run.export_dir) as db:
            rows = _build(run, fmt, options, db)
            files[fmt], stats[fmt] = write_format(run.export_dir, fmt, rows, parquet, db)
    # The card describes every format in the folder, including those exported earlier.
    for fmt in FORMATS:
        if fmt not in stats and run.export_file(fmt).exists():
            stats[fmt] = format_stats(read_jsonl(run.export_file(fmt)))
    stats = {fmt: stats[fmt] for fmt in sorted(stats, key=_order(formats))}
    card = card_text(f"{run.root.name} (sciinstruct export)", stats, run.read_stats())
    (run.export_dir / "README.md").write_text(card, encoding="utf-8")
    for fmt in stats:
        stats[fmt]["files"] = files.get(fmt) or sorted(
            p.name for p in run.export_dir.glob(f"{fmt}.*")
        )
    run.update_stats("export", stats)
    return {fmt: stats[fmt] for fmt in dict.fromkeys(formats)}
