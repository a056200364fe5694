"""Metrics against hand-computed values."""

from __future__ import annotations

import math

import pytest

from sciinstruct.evaluate.metrics import (
    accuracy,
    majority_vote,
    mean_interval,
    pass_at_k,
    wilson_interval,
)


def test_pass_at_k_matches_the_combinatorial_formula():
    # n=5, c=2, k=2: 1 - C(3,2)/C(5,2) = 1 - 3/10
    assert pass_at_k(5, 2, 2) == pytest.approx(0.7)
    assert pass_at_k(5, 2, 1) == pytest.approx(0.4)  # pass@1 is the fraction correct
    assert pass_at_k(4, 0, 4) == 0.0
    assert pass_at_k(4, 1, 4) == 1.0  # n - c < k: some correct sample is always drawn
    assert pass_at_k(10, 3, 5) == pytest.approx(1 - math.comb(7, 5) / math.comb(10, 5))


def test_pass_at_k_refuses_impossible_counts():
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 4)


def test_majority_vote_normalises_and_breaks_ties_by_first_occurrence():
    assert majority_vote(["4", " 5", "5 ", "4.", None]) == (0, 2)  # 4 and 5 tie; 4 came first
    assert majority_vote([None, "$x+1$", "X + 1", "2"]) == (1, 2)
    assert majority_vote([None, None]) == (None, 0)


def test_wilson_interval_hand_computed():
    # 8 of 10 correct, z = 1.96: centre 0.7326, half-width 0.2432 -> (0.4902, 0.9433)
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4)
    assert high == pytest.approx(0.9433, abs=1e-4)
    low, high = wilson_interval(0, 5)
    assert low == 0.0 and high == pytest.approx(0.4345, abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_accuracy_summary():
    result = accuracy([True, False, True, True])
    assert (result.accuracy, result.n, result.correct) == (0.75, 4, 3)
    assert result.ci_low < 0.75 < result.ci_high
    assert accuracy([]).accuracy is None


def test_mean_interval():
    mean, low, high = mean_interval([6.0, 8.0, 7.0, 7.0])
    # sd = sqrt(2/3) = 0.8165; half = 1.96 * 0.8165 / 2 = 0.8002
    assert mean == 7.0
    assert low == pytest.approx(6.1998, abs=1e-3) and high == pytest.approx(7.8002, abs=1e-3)
    assert mean_interval([]) == (None, 0.0, 0.0)
