"""Benchmarks as data: the YAML definitions in this folder, the registry that finds them by name,
and the one loader that turns a benchmark's published files into Questions.

Evaluation runs over them; decontamination (`curate`) checks training data against them. Both use
this one `load_benchmark`, so a benchmark reads the same wherever it is used.
"""

from sciinstruct.benchmarks.loaders import data_dir, load_benchmark, resolve_path
from sciinstruct.benchmarks.registry import BenchmarkSpec, available, get_spec, load_spec

__all__ = [
    "BenchmarkSpec",
    "available",
    "data_dir",
    "get_spec",
    "load_benchmark",
    "load_spec",
    "resolve_path",
]
