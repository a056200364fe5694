"""Evaluation metrics: accuracy with a Wilson interval, unbiased pass@k, majority vote, mean score.

Benchmarks here are small (a few hundred questions), so an accuracy without its uncertainty
misleads: the Wilson score interval stays inside [0, 1] and behaves at 0% and 100%, where the
normal approximation collapses to a zero-width interval.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass

# 1.96 standard deviations cover 95% of a normal distribution: the usual 95% interval.
Z_95 = 1.959963984540054


def wilson_interval(correct: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion; (0, 1) when there is no data."""
    if n == 0:
        return 0.0, 1.0
    p = correct / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k (Chen et al., 2021): 1 - C(n-c, k) / C(n, k), for n samples of which c are
    correct. Computed as a product so large n does not overflow."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def normalize_answer(answer: str) -> str:
    """The form two answers are compared in for voting: no spaces, case, `$`, or trailing dot."""
    text = re.sub(r"\s+", "", answer).replace("$", "").lower()
    return text.rstrip(".")


def majority_vote(answers: Sequence[str | None]) -> tuple[int | None, int]:
    """Index of a sample holding the most common answer (first on ties) and that answer's count.

    Answers are compared after `normalize_answer`; samples without an answer do not vote, and
    when none has one the result is (None, 0). Equivalent answers written differently ("0.5" and
    "1/2") count as different: voting compares forms, grading decides correctness.
    """
    keys = [normalize_answer(a) if a else None for a in answers]
    counts = Counter(k for k in keys if k)
    if not counts:
        return None, 0
    best = max(counts.values())
    for index, key in enumerate(keys):
        if key and counts[key] == best:
            return index, best
    return None, 0  # unreachable: some key has the best count


@dataclass(frozen=True)
class Accuracy:
    """Correct out of n, with its 95% Wilson interval."""

    accuracy: float | None
    ci_low: float
    ci_high: float
    n: int
    correct: int

    def to_dict(self) -> dict[str, float | int | None]:
        return asdict(self)


def accuracy(flags: Sequence[bool]) -> Accuracy:
    """Accuracy of a list of outcomes; `accuracy` is None when the list is empty."""
    n, correct = len(flags), sum(bool(f) for f in flags)
    low, high = wilson_interval(correct, n)
    return Accuracy(correct / n if n else None, low, high, n, correct)


def mean_interval(values: Sequence[float], z: float = Z_95) -> tuple[float | None, float, float]:
    """Mean with a normal-approximation 95% interval (judge scores); (None, 0, 0) when empty."""
    n = len(values)
    if n == 0:
        return None, 0.0, 0.0
    mean = sum(values) / n
    if n == 1:
        return mean, mean, mean
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = z * sd / math.sqrt(n)
    return mean, mean - half, mean + half
