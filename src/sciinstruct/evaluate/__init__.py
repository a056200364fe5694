"""Evaluation harness: a runner over any backend graded by `sciinstruct.grading`, over the
benchmarks of `sciinstruct.benchmarks`; judged evaluation, and run comparisons.

Heavy parts (matplotlib, datasets, the grader) are imported where they are used.
"""

from sciinstruct.evaluate.compare import compare_runs
from sciinstruct.evaluate.runner import EvalConfig, evaluate, run_eval

__all__ = [
    "EvalConfig",
    "compare_runs",
    "evaluate",
    "run_eval",
]
