"""Evaluation harness: registered benchmarks (YAML), loaders of published formats, a runner over any
backend graded by `sciinstruct.grading`, judged evaluation, and run comparisons.

Heavy parts (matplotlib, datasets, the grader) are imported where they are used.
"""

from sciinstruct.evaluate.compare import compare_runs
from sciinstruct.evaluate.loaders import load_benchmark
from sciinstruct.evaluate.registry import BenchmarkSpec, available, get_spec
from sciinstruct.evaluate.runner import EvalConfig, evaluate, run_eval

__all__ = [
    "BenchmarkSpec",
    "EvalConfig",
    "available",
    "compare_runs",
    "evaluate",
    "get_spec",
    "load_benchmark",
    "run_eval",
]
