"""Paired comparison of two evaluations on the same questions: exact McNemar test.

Two models answering the same questions are not independent samples, so overlapping Wilson
intervals say little: a change of a few points can be certain when one model fixes questions
and breaks none. What counts is the discordant pairs: questions the second model gets right
and the first wrong (`gained`), and the reverse (`lost`). Under "no difference" each discordant
pair goes either way with probability 1/2; the two-sided exact binomial p-value on them is
McNemar's exact test.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sciinstruct.errors import InputError
from sciinstruct.evaluate.results import question_outcome
from sciinstruct.jsonl import BadLine, read_jsonl


@dataclass(frozen=True)
class PairedResult:
    """Outcome counts over the questions both runs graded, and the exact McNemar p-value."""

    n: int  # questions graded in both runs
    both: int  # right in both
    gained: int  # wrong in the first run, right in the second
    lost: int  # right in the first run, wrong in the second
    p_value: float  # two-sided exact McNemar; 1.0 when there is no discordant pair

    @property
    def neither(self) -> int:
        return self.n - self.both - self.gained - self.lost

    @property
    def change(self) -> float:
        """Accuracy of the second run minus the first, as a fraction."""
        return (self.gained - self.lost) / self.n if self.n else 0.0

    def significant(self, alpha: float = 0.05) -> bool:
        return self.p_value < alpha

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "change": self.change}


def mcnemar(first: Mapping[Hashable, bool], second: Mapping[Hashable, bool]) -> PairedResult:
    """Compare per-question outcomes (question id -> correct) on the ids both runs have."""
    from scipy.stats import binomtest

    shared = first.keys() & second.keys()
    both = sum(first[q] and second[q] for q in shared)
    gained = sum(not first[q] and second[q] for q in shared)
    lost = sum(first[q] and not second[q] for q in shared)
    discordant = gained + lost
    p = binomtest(min(gained, lost), discordant, 0.5).pvalue if discordant else 1.0
    return PairedResult(len(shared), both, gained, lost, min(1.0, float(p)))


def _predictions(run: Path) -> list[dict[str, Any]]:
    path = run / "predictions.jsonl"
    if not path.exists():
        raise InputError(
            "not an evaluation output directory (no predictions.jsonl)", file=str(path)
        )
    bad: list[BadLine] = []
    rows = list(read_jsonl(path, bad))
    if bad:  # a half-read run would be compared on the questions that happened to parse
        raise InputError(bad[0].reason, file=bad[0].path, line=bad[0].line)
    return rows


def outcomes_by_benchmark(run: str | Path) -> dict[str, dict[str, bool]]:
    """benchmark -> question id -> correct (majority vote over samples), gradable ones only."""
    grouped: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for row in _predictions(Path(run)):
        if row.get("correct") is None and row.get("score") is not None:
            continue  # judged benchmarks have scores, not right and wrong
        grouped[row["benchmark"]][row["question_id"]].append(row)
    result: dict[str, dict[str, bool]] = {}
    for name, questions in grouped.items():
        outcomes = {
            qid: question_outcome(sorted(rows, key=lambda r: r["sample"]))
            for qid, rows in questions.items()
        }
        graded = {qid: ok for qid, ok in outcomes.items() if ok is not None}
        if graded:
            result[name] = graded
    return result


def paired_comparison(first: str | Path, second: str | Path) -> dict[str, PairedResult]:
    """McNemar per graded benchmark both runs share, plus `all` over every shared question."""
    a, b = outcomes_by_benchmark(first), outcomes_by_benchmark(second)
    results = {name: mcnemar(a[name], b[name]) for name in a if name in b}
    if len(results) > 1:
        pooled_a = {(n, q): ok for n in results for q, ok in a[n].items()}
        pooled_b = {(n, q): ok for n in results for q, ok in b[n].items()}
        results["all"] = mcnemar(pooled_a, pooled_b)
    return results
