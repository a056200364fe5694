"""`sciinstruct export`: curated samples to sft / rft / dpo / grpo files and a dataset card.

Reads RUN/samples.jsonl (written by `curate`), questions, attempts, critiques and the side file;
writes RUN/export/{format}.jsonl and .parquet, RUN/export/README.md and stats.json's `export`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sciinstruct.curate import (
    Override,
    apply_overrides,
    iter_attempts,
    latest_overrides,
    load_critique_scores,
    load_records,
    overruled_wrong,
    read_dropped,
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

__all__ = ["FORMATS", "ExportOptions", "export_run"]


def _capped_samples(run: RunDir) -> list[Sample]:
    """Samples curate dropped only for its per-question cap: still good solutions, for rft."""
    rows = read_dropped(run.dropped, stage="curate")
    return [Sample.model_validate(r["record"]) for r in rows if r["reason"] == "over_question_cap"]


def _without_overruled(samples: list[Sample], overrides: dict[str, Override]) -> list[Sample]:
    wrong = {id(s) for s in overruled_wrong(samples, overrides)}
    return [s for s in samples if id(s) not in wrong]


def _build(run: RunDir, fmt: str, options: ExportOptions) -> list[dict[str, Any]]:
    if fmt == "grpo":
        questions = load_records(run.questions, Question)
        gone = {r["id"] for r in read_dropped(run.dropped) if r.get("kind") == "question"}
        return grpo_rows((q for q in questions if q.id not in gone), options)
    if not run.samples.exists():
        raise InputError("no samples.jsonl: run `sciinstruct curate` first", file=str(run.samples))
    # Overrides made since `curate` ran count too: a solution a reviewer marked wrong is never
    # exported (one marked correct needs `curate` to become a sample: dedup and caps apply).
    overrides = latest_overrides(run)
    samples = _without_overruled(load_records(run.samples, Sample), overrides)
    if fmt == "sft":
        return sft_rows(samples, options)
    if fmt == "rft":
        return rft_rows([*samples, *_without_overruled(_capped_samples(run), overrides)], options)
    questions = {q.id: q for q in load_records(run.questions, Question)}
    attempts: Iterable[Attempt] = iter_attempts(run.attempts)  # read once, not held
    if overrides:
        attempts = apply_overrides(attempts, overrides)
    return dpo_rows(questions, samples, attempts, load_critique_scores(run.critiques), options)


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
    # One format at a time: built, written, described, let go.
    files: dict[str, list[str]] = {}
    stats: dict[str, dict[str, Any]] = {}
    for fmt in dict.fromkeys(formats):
        rows = _build(run, fmt, options)
        files[fmt] = write_format(run.export_dir, fmt, rows, parquet)
        stats[fmt] = format_stats(rows)
        del rows
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
