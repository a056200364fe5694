"""What a run contains, counted: the numbers behind report.md and its plots."""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sciinstruct.curate import iter_attempts, iter_records, solution_text
from sciinstruct.jsonl import read_jsonl
from sciinstruct.records import Attempt, Question, Sample
from sciinstruct.rundir import RunDir
from sciinstruct.scratch import DiskDict, scratch_db

# The classifier-score histogram's bins: scores live in [-1, 1].
SCORE_EDGES = tuple(i / 10 for i in range(-10, 11))


@dataclass
class Histogram:
    """Counts in fixed bins, as matplotlib's `hist` would bin the values (each bin half-open,
    the last one closed; values outside the edges are not counted): a run's scores drawn at
    the memory of 20 counters, however many samples it has."""

    edges: tuple[float, ...] = SCORE_EDGES
    counts: list[int] = field(init=False)

    def __post_init__(self) -> None:
        self.counts = [0] * (len(self.edges) - 1)

    def add(self, value: float) -> None:
        if value == self.edges[-1]:
            self.counts[-1] += 1
        elif self.edges[0] <= value < self.edges[-1]:
            self.counts[bisect_right(self.edges, value) - 1] += 1

    def __bool__(self) -> bool:
        return any(self.counts)

    def centres(self) -> list[float]:
        return [(a + b) / 2 for a, b in zip(self.edges, self.edges[1:], strict=False)]


@dataclass
class RunSummary:
    questions: int = 0
    by_subject: Counter[str] = field(default_factory=Counter)
    by_source: Counter[str] = field(default_factory=Counter)
    by_answer_type: Counter[str] = field(default_factory=Counter)
    kept_by_subject: Counter[str] = field(default_factory=Counter)
    # stage -> Counter of "correct" / "wrong" / "ungraded"
    attempts_by_stage: dict[str, Counter[str]] = field(default_factory=dict)
    # lengths in words -> how many questions (kept solutions) have that length
    question_words: Counter[int] = field(default_factory=Counter)
    solution_words: Counter[int] = field(default_factory=Counter)
    funnel: list[tuple[str, int]] = field(default_factory=list)
    classifier_kept: Histogram = field(default_factory=Histogram)
    classifier_dropped: Histogram = field(default_factory=Histogram)
    classifier_threshold: float | None = None
    filter_skipped: str | None = None  # why the filter stage did not run, when it was skipped
    critique_scores: Counter[float] = field(default_factory=Counter)  # score -> attempts
    dropped: Counter[str] = field(default_factory=Counter)  # "stage: reason" -> samples
    stats: dict[str, Any] = field(default_factory=dict)


def _words(text: str) -> int:
    return len(text.split())


def _outcome(attempt: Attempt) -> str:
    return {True: "correct", False: "wrong"}.get(attempt.correct, "ungraded")  # type: ignore[arg-type]


def summarize(run: RunDir) -> RunSummary:
    """Count everything the report shows; stages that have not run contribute nothing.

    Each file is read once as a stream: what is kept is counts and histograms, never records,
    and the question ids seen are counted in a scratch SQLite table, so memory does not grow
    with the run."""
    out = RunSummary(stats=run.read_stats())
    for q in iter_records(run.questions, Question):
        out.questions += 1
        out.by_subject[q.subject] += 1
        out.by_source[q.source or "(none)"] += 1
        out.by_answer_type[q.answer_type] += 1
        out.question_words[_words(q.question)] += 1
    correct = 0
    with scratch_db() as db:
        attempted, solved = DiskDict(db, "attempted"), DiskDict(db, "solved")
        for a in iter_attempts(run.attempts, required=False):
            out.attempts_by_stage.setdefault(a.stage, Counter())[_outcome(a)] += 1
            attempted.add(a.question_id)
            if a.correct is True:
                solved.add(a.question_id)
                correct += 1
        n_attempted, n_solved = len(attempted), len(solved)
    samples = 0
    for s in iter_records(run.samples, Sample, required=False):
        samples += 1
        out.kept_by_subject[s.subject] += 1
        out.solution_words[_words(solution_text(s))] += 1
    for r in read_jsonl(run.critiques):
        if isinstance(r.get("score"), int | float):
            out.critique_scores[float(r["score"])] += 1
    _classifier_scores(run, out)
    for row in read_jsonl(run.dropped):
        if row.get("kind") == "sample":
            out.dropped[f"{row['stage']}: {row['reason']}"] += 1
    steps = [("questions", out.questions)]
    if n_attempted:  # from questions to kept samples; a step appears only when its stage ran
        steps.append(("questions attempted", n_attempted))
        steps.append(("questions solved", n_solved))
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
            out.classifier_kept.add(float(score))
    for row in read_jsonl(run.dropped):
        if row.get("stage") != "filter":
            continue
        score = row["record"].get("scores", {}).get("classifier")
        if score is not None:
            out.classifier_dropped.add(float(score))
    out.classifier_threshold = out.stats.get("filter", {}).get("threshold")
    out.filter_skipped = out.stats.get("filter", {}).get("skipped")
