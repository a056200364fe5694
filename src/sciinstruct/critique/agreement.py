"""How far the judge agrees with the rule-based grader, so users know when to trust which.

A judge score at or above `threshold` counts as "correct". With the Math-Critique rubric a
correct final result scores 6 or more, so 6 is the default. Pairs where the judge gave no score
or the grader could not grade are left out and counted, never imputed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.table import Table

DEFAULT_THRESHOLD = 6


@dataclass(frozen=True)
class Agreement:
    """Confusion matrix (rows: grader wrong/correct; columns: judge wrong/correct) and kappa."""

    threshold: int
    matrix: tuple[tuple[int, int], tuple[int, int]]
    kappa: float | None  # None when undefined (one class only on both sides)
    null_scores: int  # judge verdicts without a score
    ungraded: int  # attempts the grader could not grade (reference not understood)
    mean_score: dict[str, float | None] = field(default_factory=dict)  # by grader verdict

    @property
    def n(self) -> int:
        return sum(map(sum, self.matrix))

    @property
    def accuracy(self) -> float | None:
        agree = self.matrix[0][0] + self.matrix[1][1]
        return agree / self.n if self.n else None

    def to_dict(self) -> dict[str, Any]:
        (tn, fp), (fn, tp) = self.matrix
        return {
            "threshold": self.threshold,
            "pairs": self.n,
            "confusion": {
                "grader_wrong_judge_wrong": tn,
                "grader_wrong_judge_correct": fp,
                "grader_correct_judge_wrong": fn,
                "grader_correct_judge_correct": tp,
            },
            "accuracy": _round(self.accuracy),
            "cohen_kappa": _round(self.kappa),
            "null_scores": self.null_scores,
            "ungraded": self.ungraded,
            "mean_score": {k: _round(v) for k, v in self.mean_score.items()},
        }

    def table(self) -> Table:
        kappa = "undefined" if self.kappa is None else f"{self.kappa:.3f}"
        table = Table(
            title=f"judge (score >= {self.threshold}) vs grader: {self.n} pairs, kappa {kappa}"
        )
        table.add_column("grader \\ judge")
        table.add_column("judge wrong", justify="right")
        table.add_column("judge correct", justify="right")
        table.add_column("mean score", justify="right")
        for label, row in zip(("grader wrong", "grader correct"), self.matrix, strict=True):
            mean = self.mean_score.get(label.split()[1])
            table.add_row(label, str(row[0]), str(row[1]), "-" if mean is None else f"{mean:.2f}")
        return table


def agreement(
    scores: Sequence[int | None],
    correct: Sequence[bool | None],
    threshold: int = DEFAULT_THRESHOLD,
) -> Agreement:
    """Agreement of judge `scores` with grader verdicts `correct`, pair by pair."""
    from sklearn.metrics import cohen_kappa_score

    if len(scores) != len(correct):
        raise ValueError(f"{len(scores)} scores but {len(correct)} verdicts")
    pairs = [
        (s, c) for s, c in zip(scores, correct, strict=True) if s is not None and c is not None
    ]
    grader = [int(c) for _, c in pairs]
    judge = [int(s >= threshold) for s, _ in pairs]
    matrix = [[0, 0], [0, 0]]
    for g, j in zip(grader, judge, strict=True):
        matrix[g][j] += 1
    kappa: float | None = None
    if pairs and len(set(grader) | set(judge)) > 1:
        value = float(cohen_kappa_score(grader, judge, labels=[0, 1]))
        kappa = None if math.isnan(value) else value
    by_label: dict[str, list[int]] = {"wrong": [], "correct": []}
    for s, c in pairs:
        by_label["correct" if c else "wrong"].append(s)
    return Agreement(
        threshold=threshold,
        matrix=((matrix[0][0], matrix[0][1]), (matrix[1][0], matrix[1][1])),
        kappa=kappa,
        null_scores=sum(s is None for s in scores),
        ungraded=sum(c is None for s, c in zip(scores, correct, strict=True) if s is not None),
        mean_score={k: (sum(v) / len(v) if v else None) for k, v in by_label.items()},
    )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
