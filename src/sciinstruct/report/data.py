"""What a run contains, counted: the numbers behind report.md and its plots."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sciinstruct.curate import iter_attempts, iter_records, solution_text
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
    """Count everything the report shows; stages that have not run contribute nothing.

    Each file is read once as a stream: what is kept is counts and lengths, never records."""
    out = RunSummary(stats=run.read_stats())
    for q in iter_records(run.questions, Question):
        out.questions += 1
        out.by_subject[q.subject] += 1
        out.by_source[q.source or "(none)"] += 1
        out.by_answer_type[q.answer_type] += 1
        out.question_words.append(_words(q.question))
    attempted: set[str] = set()
    solved: set[str] = set()
    correct = 0
    for a in iter_attempts(run.attempts, required=False):
        out.attempts_by_stage.setdefault(a.stage, Counter())[_outcome(a)] += 1
        attempted.add(a.question_id)
        if a.correct is True:
            solved.add(a.question_id)
            correct += 1
    samples = 0
    for s in iter_records(run.samples, Sample, required=False):
        samples += 1
        out.kept_by_subject[s.subject] += 1
        out.solution_words.append(_words(solution_text(s)))
    out.critique_scores = [
        float(r["score"])
        for r in read_jsonl(run.critiques)
        if isinstance(r.get("score"), int | float)
    ]
    _classifier_scores(run, out)
    for row in read_jsonl(run.dropped):
        if row.get("kind") == "sample":
            out.dropped[f"{row['stage']}: {row['reason']}"] += 1
    steps = [("questions", out.questions)]
    if attempted:  # from questions to kept samples; a step appears only when its stage ran
        steps.append(("questions attempted", len(attempted)))
        steps.append(("questions solved", len(solved)))
        steps.append(("correct solutions", correct))
    if "filter" in out.stats and out.filter_skipped is None:
        steps.append(("kept by classifier", out.stats["filter"].get("kept", 0)))
    if "curate" in out.stats:
        steps.append(("kept by curation", out.stats["curate"].get("kept_samples", samples)))
    out.funnel = steps
    return out


def _classifier_scores(run: RunDir, out: RunSummary) -> None:
    for row in read_jsonl(run.filtered):
        score = row.get("scores", {}).get("classifier")
        if score is not None:
            out.classifier_kept.append(float(score))
    for row in read_jsonl(run.dropped):
        if row.get("stage") != "filter":
            continue
        score = row["record"].get("scores", {}).get("classifier")
        if score is not None:
            out.classifier_dropped.append(float(score))
    out.classifier_threshold = out.stats.get("filter", {}).get("threshold")
    out.filter_skipped = out.stats.get("filter", {}).get("skipped")
