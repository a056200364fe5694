"""The dataset card (README.md) of an export: what is in it, how to load it, where it came from."""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from sciinstruct.rendering import md_cell, md_table
from sciinstruct.scratch import DiskDict

_FORMAT_HELP = {
    "sft": "chat `messages` for supervised fine-tuning (`trl.SFTTrainer`)",
    "rft": "up to k distinct correct solutions per question (rejection-sampling fine-tuning)",
    "dpo": "`prompt` / `chosen` / `rejected` pairs from one question (`trl.DPOTrainer`)",
    "grpo": "`prompt` with the reference `answer`, `answer_type`, `unit`, `choices` (option "
    "texts of a multiple-choice question, else null) and `metadata` (the question's metadata as "
    "JSON text: tolerances, format constraints) for verifiable rewards (`trl.GRPOTrainer`)",
}


def _table(header: tuple[str, str], counts: dict[str, Any]) -> list[str]:
    """Keys come from the data (subjects, drop reasons): escaped by `md_table`."""
    return md_table(header, list(counts.items()), align="lr")


def _words(text: str) -> int:
    return len(text.split())


class FormatStats:
    """Running statistics of one format's rows, so the rows themselves are not kept: counts,
    the question ids seen (in a table of `db`, a private SQLite file by default) and how many
    rows have each answer length."""

    def __init__(self, db: sqlite3.Connection | None = None) -> None:
        self.count = 0
        self.questions = DiskDict(sqlite3.connect("") if db is None else db, "format_question")
        self.subjects: Counter[str] = Counter()
        self.answers: Counter[int] = Counter()  # answer length in words -> rows

    def add(self, row: dict[str, Any]) -> None:
        self.count += 1
        self.questions.add(row["question_id"])
        if row.get("subject"):
            self.subjects[row["subject"]] += 1
        if "messages" in row:
            self.answers[_words(row["messages"][-1]["content"])] += 1
        elif "chosen" in row:
            self.answers[_words(row["chosen"][-1]["content"])] += 1

    def counted(self, rows: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """`rows` passed through, each one counted on the way."""
        for row in rows:
            self.add(row)
            yield row

    def result(self) -> dict[str, Any]:
        stats: dict[str, Any] = {"rows": self.count, "questions": len(self.questions)}
        if self.subjects:
            stats["by_subject"] = dict(self.subjects.most_common())
        if self.answers:
            stats["answer_words"] = {
                "mean": round(_mean(self.answers), 1),
                "median": _median(self.answers),
            }
        return stats


def _mean(counts: Counter[int]) -> float:
    """`statistics.mean` of the lengths `counts` holds: an int when it is a whole number."""
    total, n = sum(length * k for length, k in counts.items()), counts.total()
    return total // n if total % n == 0 else total / n


def _median(counts: Counter[int]) -> float:
    """`statistics.median` of the lengths `counts` holds: the middle one, or the mean of the
    two middle ones."""
    n = counts.total()
    wanted = [(n - 1) // 2, n // 2]  # positions of the middle value(s) in sorted order
    middle, seen = [], 0
    for length in sorted(counts):
        seen += counts[length]
        while wanted and wanted[0] < seen:
            middle.append(length)
            wanted.pop(0)
    return middle[0] if n % 2 else (middle[0] + middle[1]) / 2


def format_stats(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Row count, subjects and answer lengths (in words) of one format's rows, in one pass."""
    stats = FormatStats()
    for row in rows:
        stats.add(row)
    return stats.result()


def dataset_card(
    name: str, formats: dict[str, list[dict[str, Any]]], run_stats: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """The README.md text and the statistics it shows (also saved to stats.json)."""
    stats = {fmt: format_stats(rows) for fmt, rows in formats.items()}
    return card_text(name, stats, run_stats), stats


def card_text(name: str, stats: dict[str, dict[str, Any]], run_stats: dict[str, Any]) -> str:
    """The README.md text for formats described by their `format_stats` (so the rows
    themselves need not be held)."""
    formats = list(stats)
    front = ["---", "configs:"]
    for fmt in formats:
        front += [f"- config_name: {fmt}", f"  data_files: {fmt}.jsonl"]
    front += ["tags:", "- sciinstruct", "- science", "- math", "---", ""]
    body = [
        f"# {md_cell(name)}",
        "",
        "Scientific-reasoning instruction data built with "
        "sciinstruct: self-reflective annotation, graded against reference "
        "answers, classifier-filtered, deduplicated and decontaminated.",
        "",
        "```python",
        "from datasets import load_dataset",
        *(
            f'{fmt} = load_dataset("json", data_files="{fmt}.jsonl", split="train")'
            for fmt in formats
        ),
        "```",
        "",
    ]
    for fmt, fmt_stats in stats.items():
        body += [f"## {fmt}", "", _FORMAT_HELP[fmt] + ".", ""]
        body += _table(
            ("statistic", "value"),
            {
                "rows": fmt_stats["rows"],
                "questions": fmt_stats["questions"],
                **{f"answer words ({k})": v for k, v in fmt_stats.get("answer_words", {}).items()},
            },
        )
        if "by_subject" in fmt_stats:
            body += ["", *_table(("subject", "rows"), fmt_stats["by_subject"])]
        body.append("")
    curate = run_stats.get("curate", {})
    if curate.get("dropped_samples") or run_stats.get("filter", {}).get("dropped_samples"):
        body += ["## What curation removed", ""]
        dropped = Counter(run_stats.get("filter", {}).get("dropped_samples", {}))
        dropped.update(curate.get("dropped_samples", {}))
        body += _table(("reason", "samples dropped"), dict(dropped.most_common()))
        body += [
            "",
            "Every dropped sample is listed with its reason in the run's `dropped.jsonl`.",
            "",
        ]
    return "\n".join(front + body)
