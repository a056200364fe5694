"""Filters that say why: the auditable core of curation.

A filter is a plain callable `filter(sample) -> bool | (False, reason)` (datatrove's shape). A
`DropLog` runs filters, counts `dropped_<reason>` and keeps every rejected record with its reason,
so that `RUN/dropped.jsonl` and the counts in `stats.json` are one and the same list. The records
wait in a temporary file, not in memory: a stage may drop most of a large run.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from itertools import chain
from pathlib import Path
from typing import Any

from sciinstruct.jsonl import read_jsonl, write_jsonl
from sciinstruct.records import Question, Sample

FilterResult = bool | tuple[bool, str]
SampleFilter = Callable[[Sample], FilterResult]


class DropLog:
    """Everything one stage dropped, with the reason, ready for the side file and stats.json."""

    def __init__(self, stage: str) -> None:
        self.stage = stage
        # One row a line, in order; open as long as the log (removed when closed or collected).
        self.spill = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115
        self.rows = 0
        self.samples: Counter[str] = Counter()
        self.questions: Counter[str] = Counter()

    def _add(self, row: dict[str, Any]) -> None:
        self.spill.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
        self.rows += 1

    def _rows(self) -> Iterator[dict[str, Any]]:
        self.spill.flush()
        self.spill.seek(0)
        for line in self.spill:
            yield json.loads(line)

    def drop(self, sample: Sample, reason: str, **detail: Any) -> None:
        """Record one dropped sample; `detail` says what made the decision (score, cluster...)."""
        self.samples[reason] += 1
        self._add(
            {
                "kind": "sample",
                "stage": self.stage,
                "reason": reason,
                "id": sample.id,
                "question_id": sample.question_id,
                "detail": detail,
                "record": sample.to_json_dict(),
            }
        )

    def drop_question(self, question: Question, reason: str, **detail: Any) -> None:
        """Record one dropped question (its samples are dropped separately, with the same reason)."""
        self.questions[reason] += 1
        self._add(
            {
                "kind": "question",
                "stage": self.stage,
                "reason": reason,
                "id": question.id,
                "question_id": question.id,
                "detail": detail,
                "record": question.to_json_dict(),
            }
        )

    def apply(self, samples: Iterable[Sample], sample_filter: SampleFilter) -> Iterator[Sample]:
        """Yield the samples a filter keeps; log the others with the filter's reason."""
        return (sample for sample in samples if self.keeps(sample, sample_filter))

    def keeps(self, sample: Sample, sample_filter: SampleFilter) -> bool:
        """Whether the filter keeps `sample`; if not, it is logged with the filter's reason."""
        verdict = sample_filter(sample)
        default_reason = getattr(
            sample_filter, "name", getattr(sample_filter, "__name__", "filter")
        )
        keep, reason = verdict if isinstance(verdict, tuple) else (verdict, default_reason)
        if not keep:
            self.drop(sample, reason)
        return bool(keep)

    def stats(self) -> dict[str, Any]:
        """Counts for stats.json: per reason, and flat `dropped_<reason>` keys (datatrove's style)."""
        out: dict[str, Any] = {
            "dropped_samples": dict(sorted(self.samples.items())),
            "dropped_questions": dict(sorted(self.questions.items())),
        }
        for reason, count in self.samples.items():
            out[f"dropped_{reason}"] = count
        return out

    def save(self, path: str | Path) -> int:
        """Rewrite the side file: rows of other stages stay, this stage's rows are replaced.

        Re-running a stage therefore never double-counts its drops.
        """
        others = (row for row in read_jsonl(path) if row.get("stage") != self.stage)
        return write_jsonl(path, chain(others, self._rows()))


def read_dropped(path: str | Path, stage: str | None = None) -> list[dict[str, Any]]:
    """The rows of a side file, optionally of one stage only."""
    return [row for row in read_jsonl(path) if stage is None or row.get("stage") == stage]
