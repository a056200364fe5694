"""Mixing: how hinted solutions count, how many solutions a question may keep, the share of each
subject, and general instruction data mixed in (SciGLM keeps some so as not to lose language
ability while learning science).
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from sciinstruct.curate.droplog import DropLog, SampleFilter
from sciinstruct.curate.samples import BEST_FIRST
from sciinstruct.errors import InputError
from sciinstruct.log import logger
from sciinstruct.records import Provenance, Sample, stable_id
from sciinstruct.rows import read_rows
from sciinstruct.scratch import DiskDict, RecordTable

HintedPolicy = Literal["keep", "downweight", "drop"]
HINTED_POLICIES: tuple[str, ...] = ("keep", "downweight", "drop")


def not_hinted(sample: Sample) -> bool | tuple[bool, str]:
    """A filter: hinted solutions saw the reference answer before writing."""
    return (False, "hinted") if sample.provenance.hinted else True


def anchored(sample: Sample) -> bool | tuple[bool, str]:
    """A filter: the verdict read an answer the solution marked, not just its last number."""
    return (False, "fallback_verdict") if sample.provenance.fallback else True


def apply_hinted(
    samples: RecordTable[Sample], policy: HintedPolicy, weight: float, log: DropLog
) -> None:
    """Hinted solutions: keep them, give them `weight`, or drop them."""
    if policy not in HINTED_POLICIES:
        raise InputError(
            f"hinted policy must be one of {', '.join(HINTED_POLICIES)}, got {policy!r}"
        )
    if policy == "drop":
        drop_unless(samples, not_hinted, log)
    elif policy == "downweight":
        for seq, sample in samples.where("hinted"):
            sample.weight = weight
            samples.replace(seq, sample)


def drop_unless(samples: RecordTable[Sample], sample_filter: SampleFilter, log: DropLog) -> None:
    """Drop (and log) the samples a filter refuses."""
    for seq, sample in samples:
        if not log.keeps(sample, sample_filter):
            samples.drop(seq)


def _beyond(samples: RecordTable[Sample], group: str, limit: str) -> str:
    """SQL for the seqs past `limit` in their `group`, the best-scored first (`BEST_FIRST`)."""
    return (
        f"SELECT seq FROM (SELECT seq, {group}, ROW_NUMBER() OVER (PARTITION BY {group} "
        f"ORDER BY {BEST_FIRST}) AS place FROM {samples.table} WHERE kept) WHERE place > {limit}"
    )


def cap_per_question(samples: RecordTable[Sample], cap: int | None, log: DropLog) -> None:
    """Keep at most `cap` solutions per question, the best-scored ones (order is preserved)."""
    if cap is None:
        return
    if cap < 1:
        raise InputError(f"max solutions per question must be at least 1, got {cap}")
    for seq, sample in samples.selected(_beyond(samples, "question", "?"), (cap,)):
        log.drop(sample, "over_question_cap", cap=cap)
        samples.drop(seq)


def subject_quotas(counts: Mapping[str, int], ratios: Mapping[str, float]) -> dict[str, int]:
    """How many samples each named subject keeps so that their shares follow `ratios`.

    Ratios are relative weights over the named subjects (math=2, physics=1 is 2:1). The mix is
    the largest one the data allows: the subject that runs out first fixes the total. A named
    subject with no samples at all cannot be matched and is left out (with a warning) rather than
    shrinking every other subject to nothing.
    """
    if any(r < 0 for r in ratios.values()) or not any(r > 0 for r in ratios.values()):
        raise InputError(
            f"subject ratios must be non-negative with one positive, got {dict(ratios)}"
        )
    present = {s: r for s, r in ratios.items() if counts.get(s, 0) > 0 or r == 0}
    for subject in ratios.keys() - present.keys():
        logger.warning("subject ratio for %r ignored: the run has no %s samples", subject, subject)
    weight = sum(present.values())
    if weight == 0:
        return {}
    shares = {s: r / weight for s, r in present.items()}
    total = min(counts[s] / share for s, share in shares.items() if share > 0)
    # A tiny epsilon keeps floor() from losing a sample to float rounding (0.3 * 10 = 2.9999...).
    return {
        s: min(counts.get(s, 0), math.floor(share * total + 1e-9)) for s, share in shares.items()
    }


def apply_subject_ratios(
    samples: RecordTable[Sample], ratios: Mapping[str, float], log: DropLog
) -> None:
    """Down-sample named subjects to their ratios, keeping the best; other subjects pass."""
    if not ratios:
        return
    counts = dict(
        samples.db.execute(f"SELECT subject, COUNT(*) FROM {samples.table} WHERE kept GROUP BY 1")
    )
    quotas = subject_quotas(counts, ratios)
    limits = DiskDict(samples.db, "subject_quota")
    limits.update(quotas)
    beyond = _beyond(samples, "subject", f"(SELECT value FROM {limits.table} WHERE key = subject)")
    for seq, sample in samples.selected(beyond):
        log.drop(sample, "subject_ratio", quota=quotas[sample.subject])
        samples.drop(seq)


def _general_messages(row: dict[str, Any]) -> list[dict[str, str]] | None:
    """Chat messages from the common instruction formats: messages, Alpaca, prompt/response."""
    if isinstance(row.get("messages"), list):
        messages = row["messages"]
        if all(isinstance(m, dict) and "role" in m and "content" in m for m in messages):
            return [{"role": m["role"], "content": m["content"]} for m in messages]
        return None
    if "instruction" in row and "output" in row:
        prompt = row["instruction"] + (f"\n\n{row['input']}" if row.get("input") else "")
        return [
            {"role": "user", "content": prompt},
            {"role": "assistant", "content": row["output"]},
        ]
    for answer_key in ("response", "completion"):
        if "prompt" in row and answer_key in row:
            return [
                {"role": "user", "content": row["prompt"]},
                {"role": "assistant", "content": row[answer_key]},
            ]
    return None


def load_general(path: str | Path) -> list[Sample]:
    """General instruction data as samples of subject "general" (stage "general")."""
    path = Path(path)
    if not path.exists():
        raise InputError("general instruction file not found", file=str(path))
    samples = []
    for line in read_rows(path, fmt="jsonl"):
        row = line.data or {}
        messages = _general_messages(row)
        if not messages:
            raise line.error("expected `messages`, `instruction`+`output` or `prompt`+`response`")
        key = stable_id(*(m["content"] for m in messages))
        samples.append(
            Sample(
                question_id=f"general:{key}",
                messages=messages,
                provenance=Provenance(stage="general", model=str(row.get("model", ""))),
                subject="general",
            )
        )
    return samples


def mix_general(
    count: int, general: list[Sample], ratio: float, seed: int = 0
) -> tuple[list[Sample], dict[str, Any]]:
    """General samples to add to `count` curated ones so they make up `ratio` of the result (as
    far as the file allows), and what was asked and found."""
    if not 0.0 <= ratio < 1.0:
        raise InputError(f"general data ratio must be in [0, 1), got {ratio}")
    wanted = round(ratio / (1.0 - ratio) * count)
    chosen = random.Random(seed).sample(general, min(wanted, len(general)))
    if wanted > len(general):
        logger.warning("general data: wanted %d rows, the file has %d", wanted, len(general))
    info = {"ratio": ratio, "wanted": wanted, "available": len(general), "added": len(chosen)}
    return chosen, info
