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
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
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


def sft_rows(samples: Iterable[Sample], options: ExportOptions) -> list[dict[str, Any]]:
    """Every curated sample (general data included) as a chat conversation."""
    return [_chat_row(s, options) for s in samples]


def rft_rows(samples: Iterable[Sample], options: ExportOptions) -> list[dict[str, Any]]:
    """Up to k distinct correct solutions per question, the best-scored first.

    `samples` may include those curate dropped only for its per-question cap: RFT wants more
    solutions per question than SFT does. General data is left out: it is not the model's own.
    """
    by_question: dict[str, list[Sample]] = defaultdict(list)
    for sample in samples:
        if sample.provenance.stage != "general":
            by_question[sample.question_id].append(sample)
    rows = []
    for group in by_question.values():
        seen: set[str] = set()
        for sample in sorted(group, key=quality_key, reverse=True):
            key = normalize(solution_text(sample))
            if key in seen:
                continue
            seen.add(key)
            rows.append(_chat_row(sample, options))
            if len(seen) == options.rft_k:
                break
    return rows


def _is_rejected(attempt: Attempt, critique: float | None, options: ExportOptions) -> bool:
    if attempt.error or not attempt.response.strip() or attempt.stage == "eval":
        return False
    if attempt.correct is False:
        return True
    return critique is not None and critique <= options.rejected_max


def dpo_rows(
    questions: dict[str, Question],
    samples: Iterable[Sample],
    attempts: Iterable[Attempt],
    critiques: dict[str, float],
    options: ExportOptions,
) -> list[dict[str, Any]]:
    """Pairs from one question: a curated solution (chosen) against a wrong or low-judged one."""
    chosen: dict[str, list[Sample]] = defaultdict(list)
    for sample in sorted(samples, key=quality_key, reverse=True):
        critique = sample.scores.get("critique")
        if sample.question_id in questions and (critique is None or critique >= options.chosen_min):
            chosen[sample.question_id].append(sample)
    rejected: dict[str, list[Attempt]] = defaultdict(list)
    for attempt in attempts:
        if attempt.question_id in chosen and _is_rejected(
            attempt, critiques.get(attempt.id), options
        ):
            rejected[attempt.question_id].append(attempt)
    rows = []
    for question_id, good in chosen.items():
        # The worst-judged wrong solutions make the clearest contrast; unjudged ones come last.
        bad = sorted(rejected.get(question_id, []), key=lambda a: critiques.get(a.id, 11.0))
        for sample, attempt in list(zip(good, bad, strict=False))[: options.dpo_pairs]:
            rows.append(
                {
                    "prompt": _with_system(
                        [{"role": "user", "content": question_prompt(questions[question_id])}],
                        options,
                    ),
                    "chosen": [{"role": "assistant", "content": solution_text(sample)}],
                    "rejected": [{"role": "assistant", "content": attempt.response.strip()}],
                    "question_id": question_id,
                }
            )
    return rows


def grpo_rows(questions: Iterable[Question], options: ExportOptions) -> list[dict[str, Any]]:
    """Prompts with the reference answer for verifiable rewards (the grader scores completions).

    `metadata` is written as JSON text, not a nested object: questions carry different keys, and
    one string column keeps the Parquet schema the same for every row. The grader and the
    scientific-format rewards parse it back.
    """
    return [
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
    ]
