"""Curation: the quality classifier, dedup, decontamination and mixing; every drop has a reason.

Stages: `run_filter` (RUN/filtered.jsonl) then `curate` (RUN/samples.jsonl); both append their
drops, with the reason, to RUN/dropped.jsonl and their counts to stats.json. `clear_filter`
records a skipped filter stage and removes what an earlier one left.
"""

from sciinstruct.curate.droplog import DropLog, read_dropped
from sciinstruct.curate.pipeline import CurateConfig, curate
from sciinstruct.curate.quality_filter import FilterConfig, clear_filter, run_filter
from sciinstruct.curate.samples import build_samples, quality_key

__all__ = [
    "CurateConfig",
    "DropLog",
    "FilterConfig",
    "build_samples",
    "clear_filter",
    "curate",
    "quality_key",
    "read_dropped",
    "run_filter",
]
