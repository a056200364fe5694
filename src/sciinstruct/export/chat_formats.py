"""Rows of the four training formats, in the shapes TRL's trainers take as they are.

- sft:  {"messages", "question_id", "subject", "stage", "weight"}        (SFTTrainer, chat)
- rft:  same, up to k distinct correct solutions per question           (rejection-sampling FT)
- dpo:  {"prompt": [user], "chosen": [assistant], "rejected": [assistant], "question_id"}
        (DPOTrainer, conversational preference with an explicit prompt)
- grpo: {"prompt": [user], "answer", "answer_type", "unit", "choices", "metadata",
         "question_id", "subject"}
        (GRPOTrainer; extra columns reach the reward functions as keyword arguments: `choices`
        lets the grader accept an option's text, `metadata` carries per-question tolerances and
        the scientific-format constraints)
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter
from typing import Any

from sciinstruct.curate import normalize, quality_key, question_prompt, solution_text
from sciinstruct.records import Attempt, Question, Sample
from sciinstruct.settings import check_declared, option

FORMATS = ("sft", "rft", "dpo", "grpo")


@dataclass(frozen=True)
class ExportOptions:
    """rft_k: solutions per question in rft. dpo_pairs: pairs per question. A judged solution
    is "chosen" only with critique >= chosen_min and "rejected" when wrong or critique <=
    rejected_max (the judge scores 1-10; 8 and 4 leave a clear margin between the two)."""

    rft_k: int = option(4, "rft: distinct correct solutions per question.", min=1)
    dpo_pairs: int = option(1, "dpo: pairs per question.", min=1)
    chosen_min: float = option(8.0, "dpo: lowest critique score of a chosen solution.")
    rejected_max: float = option(4.0, "dpo: highest critique score of a rejected solution.")
    system_prompt: str | None = option(None, "A system message to put first in every conversation.")

    def __post_init__(self) -> None:
        check_declared(self)


def _with_system(messages: list[dict[str, str]], options: ExportOptions) -> list[dict[str, str]]:
    if options.system_prompt and messages and messages[0]["role"] != "system":
        return [{"role": "system", "content": options.system_prompt}, *messages]
    return messages


def _chat_row(sample: Sample, options: ExportOptions) -> dict[str, Any]:
    return {
        "messages": _with_system(sample.messages, options),
        "question_id": sample.question_id,
        "subject": sample.subject,
        "stage": sample.provenance.stage,
        "weight": sample.weight,
    }


def sft_rows(samples: Iterable[Sample], options: ExportOptions) -> Iterator[dict[str, Any]]:
    """Every curated sample (general data included) as a chat conversation."""
    return (_chat_row(s, options) for s in samples)


def rft_rows(
    samples: Iterable[Sample], options: ExportOptions, db: sqlite3.Connection
) -> Iterator[dict[str, Any]]:
    """Up to k distinct correct solutions per question, the best-scored first.

    `samples` may include those curate dropped only for its per-question cap: RFT wants more
    solutions per question than SFT does. General data is left out: it is not the model's own.
    The samples wait in `db` (a scratch SQLite file), grouped there by question; questions come
    out in the order they first appear, a group's samples in theirs before the stable sort.
    """
    db.execute("CREATE TABLE rft (seq INTEGER PRIMARY KEY, question TEXT, sample TEXT)")
    db.executemany(
        "INSERT INTO rft (question, sample) VALUES (?, ?)",
        ((s.question_id, s.model_dump_json()) for s in samples if s.provenance.stage != "general"),
    )
    db.execute("CREATE INDEX rft_question ON rft (question, seq)")
    ordered = db.execute(
        "SELECT r.question, r.sample FROM rft r JOIN "
        "(SELECT question, MIN(seq) AS first FROM rft GROUP BY question) f USING (question) "
        "ORDER BY f.first, r.seq"
    )
    for _, rows in groupby(ordered, key=itemgetter(0)):
        group = [Sample.model_validate_json(line) for _, line in rows]
        seen: set[str] = set()
        for sample in sorted(group, key=quality_key, reverse=True):
            key = normalize(solution_text(sample))
            if key in seen:
                continue
            seen.add(key)
            yield _chat_row(sample, options)
            if len(seen) == options.rft_k:
                break


def _is_rejected(attempt: Attempt, critique: float | None, options: ExportOptions) -> bool:
    if attempt.error or not attempt.response.strip() or attempt.stage == "eval":
        return False
    if attempt.correct is False:
        return True
    return critique is not None and critique <= options.rejected_max


def dpo_rows(
    questions: Iterable[Question],
    samples: Iterable[Sample],
    attempts: Iterable[Attempt],
    critiques: Mapping[str, float],
    options: ExportOptions,
    db: sqlite3.Connection,
) -> Iterator[dict[str, Any]]:
    """Pairs from one question: a curated solution (chosen) against a wrong or low-judged one.

    Prompts, chosen solutions and rejected responses wait in `db` (a scratch SQLite file), each
    read once. Chosen solutions rank by `quality_key` (ties in file order), questions come in
    the order of their best-ranked solution, rejected ones by critique (ties in file order).
    """
    db.executescript(
        "CREATE TABLE prompt (question TEXT PRIMARY KEY, text TEXT);"
        "CREATE TABLE chosen (seq INTEGER PRIMARY KEY, question TEXT, k0 REAL, k1 REAL,"
        " k2 REAL, k3 REAL, text TEXT);"
        "CREATE TABLE rejected (seq INTEGER PRIMARY KEY, question TEXT, critique REAL, text TEXT);"
    )
    # A question listed twice is its last row (as a dict built from the file would be).
    db.executemany(
        "INSERT OR REPLACE INTO prompt VALUES (?, ?)",
        ((q.id, question_prompt(q)) for q in questions),
    )
    db.executemany(
        "INSERT INTO chosen (question, k0, k1, k2, k3, text) "
        "SELECT ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM prompt WHERE question = ?)",
        (
            (s.question_id, *quality_key(s), solution_text(s), s.question_id)
            for s in samples
            if (c := s.scores.get("critique")) is None or c >= options.chosen_min
        ),
    )
    db.execute("CREATE INDEX chosen_question ON chosen (question)")
    db.executemany(
        "INSERT INTO rejected (question, critique, text) "
        "SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM chosen WHERE question = ?)",
        (
            (a.question_id, critiques.get(a.id, 11.0), a.response.strip(), a.question_id)
            for a in attempts
            if _is_rejected(a, critiques.get(a.id), options)
        ),
    )
    db.executescript(
        "CREATE INDEX rejected_question ON rejected (question, critique, seq);"
        "CREATE TABLE ranked AS SELECT question, text, ROW_NUMBER() OVER "
        "(ORDER BY k0 DESC, k1 DESC, k2 DESC, k3 DESC, seq) AS rank FROM chosen;"
        "CREATE INDEX ranked_question ON ranked (question, rank);"
    )
    order = db.execute("SELECT question FROM ranked GROUP BY question ORDER BY MIN(rank)")
    for (question_id,) in order:
        (prompt,) = db.execute(
            "SELECT text FROM prompt WHERE question = ?", (question_id,)
        ).fetchone()
        good = db.execute(
            "SELECT text FROM ranked WHERE question = ? ORDER BY rank LIMIT ?",
            (question_id, options.dpo_pairs),
        ).fetchall()
        bad = db.execute(
            "SELECT text FROM rejected WHERE question = ? ORDER BY critique, seq LIMIT ?",
            (question_id, options.dpo_pairs),
        ).fetchall()
        for (solution,), (response,) in zip(good, bad, strict=False):
            yield {
                "prompt": _with_system([{"role": "user", "content": prompt}], options),
                "chosen": [{"role": "assistant", "content": solution}],
                "rejected": [{"role": "assistant", "content": response}],
                "question_id": question_id,
            }


def grpo_rows(questions: Iterable[Question], options: ExportOptions) -> Iterator[dict[str, Any]]:
    """Prompts with the reference answer for verifiable rewards (the grader scores completions).

    `metadata` is written as JSON text, not a nested object: questions carry different keys, and
    one string column keeps the Parquet schema the same for every row. The grader and the
    scientific-format rewards parse it back.
    """
    return (
        {
            "prompt": _with_system([{"role": "user", "content": question_prompt(q)}], options),
            "answer": q.answer,
            "answer_type": q.answer_type,
            "unit": q.unit,
            "choices": q.choices,
            "metadata": json.dumps(q.metadata, ensure_ascii=False, sort_keys=True),
            "question_id": q.id,
            "subject": q.subject,
        }
        for q in questions
    )
