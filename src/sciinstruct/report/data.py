"""What a run contains, counted: the numbers behind report.md and its plots."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sciinstruct.curate import load_attempts, load_records, read_dropped, solution_text
from sciinstruct.jsonl import read_jsonl
from sciinstruct.records import Attempt, Question, Sample
from sciinstruct.rundir import RunDir


@dataclass
class RunSummary:
    questions: int = 0
    by_subject: Counter[str] = field(default_factory=Counter)
    by_source: Counter[str] = field(default_factory=Counter)
    by_answer_type: Counter[str] = field(default_factory=Counter)
    kept_by_subject: Counter[str] = field(default_factory=Counter)
    # stage -> Counter of "correct" / "wrong" / "ungraded"
    attempts_by_stage: dict[str, Counter[str]] = field(default_factory=dict)
    question_words: list[int] = field(default_factory=list)
    solution_words: list[int] = field(default_factory=list)
    funnel: list[tuple[str, int]] = field(default_factory=list)
    classifier_kept: list[float] = field(default_factory=list)
    classifier_dropped: list[float] = field(default_factory=list)
    classifier_threshold: float | None = None
    filter_skipped: str | None = None  # why the filter stage did not run, when it was skipped
    critique_scores: list[float] = field(default_factory=list)
    dropped: Counter[str] = field(default_factory=Counter)  # "stage: reason" -> samples
    stats: dict[str, Any] = field(default_factory=dict)


def _words(text: str) -> int:
    return len(text.split())


def _outcome(attempt: Attempt) -> str:
    return {True: "correct", False: "wrong"}.get(attempt.correct, "ungraded")  # type: ignore[arg-type]


def summarize(run: RunDir) -> RunSummary:
    """Count everything the report shows; stages that have not run contribute nothing."""
    out = RunSummary(stats=run.read_stats())
    questions = load_records(run.questions, Question)
    attempts = load_attempts(run.attempts, required=False)
    samples = load_records(run.samples, Sample, required=False)
    out.questions = len(questions)
    for q in questions:
        out.by_subject[q.subject] += 1
        out.by_source[q.source or "(none)"] += 1
        out.by_answer_type[q.answer_type] += 1
        out.question_words.append(_words(q.question))
    for a in attempts:
        out.attempts_by_stage.setdefault(a.stage, Counter())[_outcome(a)] += 1
    for s in samples:
        out.kept_by_subject[s.subject] += 1
        out.solution_words.append(_words(solution_text(s)))
    out.critique_scores = [
        float(r["score"])
        for r in read_jsonl(run.critiques)
        if isinstance(r.get("score"), int | float)
    ]
    _classifier_scores(run, out)
    for row in read_dropped(run.dropped):
        if row.get("kind") == "sample":
            out.dropped[f"{row['stage']}: {row['reason']}"] += 1
    out.funnel = _funnel(out, attempts, samples)
    return out


def _classifier_scores(run: RunDir, out: RunSummary) -> None:
    for row in read_jsonl(run.filtered):
        score = row.get("scores", {}).get("classifier")
        if score is not None:
            out.classifier_kept.append(float(score))
    for row in read_dropped(run.dropped, stage="filter"):
        score = row["record"].get("scores", {}).get("classifier")
        if score is not None:
            out.classifier_dropped.append(float(score))
    out.classifier_threshold = out.stats.get("filter", {}).get("threshold")
    out.filter_skipped = out.stats.get("filter", {}).get("skipped")


def _funnel(
    out: RunSummary, attempts: list[Attempt], samples: list[Sample]
) -> list[tuple[str, int]]:
    """From questions to kept samples; a step appears only when its stage has run."""
    steps = [("questions", out.questions)]
    if attempts:
        steps.append(("questions attempted", len({a.question_id for a in attempts})))
        solved = {a.question_id for a in attempts if a.correct is True}
        steps.append(("questions solved", len(solved)))
        steps.append(("correct solutions", sum(a.correct is True for a in attempts)))
    if "filter" in out.stats and out.filter_skipped is None:
        steps.append(("kept by classifier", out.stats["filter"].get("kept", 0)))
    if "curate" in out.stats:
        steps.append(("kept by curation", out.stats["curate"].get("kept_samples", len(samples))))
    return steps
