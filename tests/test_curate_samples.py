"""Samples from a run's files: which critique score an attempt carries."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sciinstruct.curate.samples import critique_scores, load_critique_scores
from sciinstruct.jsonl import write_jsonl


def critique(attempt_id: str, score: int | None, judge: str) -> dict:
    return {"id": f"{attempt_id}-{judge}", "attempt_id": attempt_id, "question_id": "q",
            "score": score, "explanation": "", "raw": "", "judge_model": judge, "usage": {}}  # fmt: skip


def test_latest_critique_of_an_attempt_wins(tmp_path: Path) -> None:
    path = tmp_path / "critiques.jsonl"
    write_jsonl(
        path,
        [
            critique("a", 9, "old-judge"),  # higher, but superseded
            critique("b", 4, "old-judge"),
            critique("c", 7, "old-judge"),
            critique("a", 3, "new-judge"),
            critique("b", 8, "new-judge"),
            critique("c", None, "new-judge"),  # unparseable verdict: no score, not the old 7
            critique("d", None, "new-judge"),
            critique("e", 6, "new-judge"),
        ],
    )
    assert load_critique_scores(path) == {"a": 3.0, "b": 8.0, "e": 6.0}
    assert load_critique_scores(tmp_path / "missing.jsonl") == {}
    # The same scores in a table of a scratch SQLite file, as filter, curate and export read them.
    on_disk = critique_scores(path, sqlite3.connect(tmp_path / "scratch.sqlite"))
    assert dict(on_disk.items()) == {"a": 3.0, "b": 8.0, "e": 6.0}
    assert (on_disk.get("c"), on_disk.get("c", 11.0), len(on_disk)) == (None, 11.0, 3)
