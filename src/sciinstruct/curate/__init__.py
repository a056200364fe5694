"""Curation: the quality classifier, dedup, decontamination and mixing; every drop has a reason.

Stages: `run_filter` (RUN/filtered.jsonl) then `curate` (RUN/samples.jsonl); both append their
drops, with the reason, to RUN/dropped.jsonl and their counts to stats.json. `clear_filter`
records a skipped filter stage and removes what an earlier one left.
"""

from sciinstruct.curate.dedup import normalize
from sciinstruct.curate.droplog import DropLog, read_dropped
from sciinstruct.curate.overrides import (
    Override,
    add_override,
    apply_overrides,
    find_attempt,
    latest_overrides,
    overruled_wrong,
    source_attempt,
)
from sciinstruct.curate.pipeline import CurateConfig, curate
from sciinstruct.curate.quality_filter import FilterConfig, clear_filter, run_filter
from sciinstruct.curate.samples import (
    build_samples,
    critique_scores,
    iter_attempts,
    iter_records,
    iter_samples,
    load_attempts,
    load_critique_scores,
    load_records,
    quality_key,
    question_prompt,
    solution_text,
)

__all__ = [
    "CurateConfig",
    "DropLog",
    "FilterConfig",
    "Override",
    "add_override",
    "apply_overrides",
    "find_attempt",
    "latest_overrides",
    "overruled_wrong",
    "build_samples",
    "critique_scores",
    "clear_filter",
    "curate",
    "load_critique_scores",
    "iter_attempts",
    "iter_records",
    "iter_samples",
    "load_attempts",
    "load_records",
    "normalize",
    "quality_key",
    "question_prompt",
    "read_dropped",
    "run_filter",
    "solution_text",
    "source_attempt",
]
