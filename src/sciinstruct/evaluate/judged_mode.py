"""Judged evaluation for open-ended answers (MathUserEval, as in ChatGLM-Math).

A judge model reads the question, the reference and the answer, explains, and scores 1-10. Judges
write the score in many ways — JSON (`{"score": 7}`), "Score: 7", "Rating: [[7]]", the ChatGLM-Math
dictionary (`{'综合得分': 7}`) — and sometimes restate an example score before their own, so the
last explicit score wins (`sciinstruct.critique.parse`). A judgment with no score in 1-10 is
reported as unparseable and left out of the mean, never counted as a zero.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sciinstruct.benchmarks.registry import BenchmarkSpec
from sciinstruct.critique import parse_verdict
from sciinstruct.evaluate.prompting import judge_messages
from sciinstruct.llm.base import Backend, GenerationRequest, SamplingParams
from sciinstruct.records import Question

# ChatGLM-Math's judge ends with a Python dict, `{'事实正确性': 9, ..., '综合得分': 7}`; the overall
# score is the last key. `critique.parse` reads JSON and "Score: N" forms, not this one.
_CHATGLM_OVERALL = re.compile(r"['\"]综合得分['\"]\s*:\s*(\d{1,2})(?!\d)")


def parse_score(text: str) -> int | None:
    """The judge's 1-10 score: the critique parser's verdict (last explicit score wins), else the
    ChatGLM-Math overall score; None when neither is found or the score is outside 1-10."""
    verdict = parse_verdict(text)
    if verdict.score is not None or verdict.how != "no score found":
        return verdict.score
    matches = _CHATGLM_OVERALL.findall(text)
    if not matches:
        return None
    score = int(matches[-1])
    return score if 1 <= score <= 10 else None


@dataclass(frozen=True)
class Judgment:
    """A judge's verdict on one answer: `score` None when it could not be parsed (or failed)."""

    score: int | None
    raw: str
    error: str | None = None


def judge_answers(
    judge: Backend,
    spec: BenchmarkSpec,
    questions: Sequence[Question],
    answers: Sequence[str],
    max_tokens: int = 512,
) -> list[Judgment]:
    """Score each answer against its question's reference, greedily (temperature 0) so that a
    re-run gives the same scores and hits the cache."""
    params = SamplingParams(temperature=0.0, top_p=1.0, max_tokens=max_tokens, seed=0)
    requests = [
        GenerationRequest(judge_messages(spec, q, a), params)
        for q, a in zip(questions, answers, strict=True)
    ]
    judgments: list[Judgment] = []
    for completion in judge.generate(requests):
        if completion.error:
            judgments.append(Judgment(None, "", completion.error))
        else:
            judgments.append(Judgment(parse_score(completion.text), completion.text))
    return judgments
