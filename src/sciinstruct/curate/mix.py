"""Mixing: how hinted solutions count, how many solutions a question may keep, the share of each
subject, and general instruction data mixed in (SciGLM keeps some so as not to lose language
ability while learning science).
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from sciinstruct.curate.droplog import DropLog
from sciinstruct.curate.samples import quality_key
from sciinstruct.errors import InputError
from sciinstruct.log import logger
from sciinstruct.records import Provenance, Sample, stable_id
from sciinstruct.rows import read_rows

HintedPolicy = Literal["keep", "downweight", "drop"]
HINTED_POLICIES: tuple[str, ...] = ("keep", "downweight", "drop")


def not_hinted(sample: Sample) -> bool | tuple[bool, str]:
    """A filter: hinted solutions saw the reference answer before writing."""
    return (False, "hinted") if sample.provenance.hinted else True


def anchored(sample: Sample) -> bool | tuple[bool, str]:
    """A filter: the verdict read an answer the solution marked, not just its last number."""
    return (False, "fallback_verdict") if sample.provenance.fallback else True


def apply_hinted(
    samples: list[Sample], policy: HintedPolicy, weight: float, log: DropLog
) -> list[Sample]:
    """Hinted solutions: keep them, give them `weight`, or drop them."""
    if policy not in HINTED_POLICIES:
        raise InputError(
            f"hinted policy must be one of {', '.join(HINTED_POLICIES)}, got {policy!r}"
        )
    if policy == "drop":
        return list(log.apply(samples, not_hinted))
    if policy == "downweight":
        for sample in samples:
            if sample.provenance.hinted:
                sample.weight = weight
    return samples


def cap_per_question(samples: list[Sample], cap: int | None, log: DropLog) -> list[Sample]:
    """Keep at most `cap` solutions per question, the best-scored ones (order is preserved)."""
    if cap is None:
        return samples
    if cap < 1:
        raise InputError(f"max solutions per question must be at least 1, got {cap}")
    by_question: dict[str, list[Sample]] = defaultdict(list)
    for sample in samples:
        by_question[sample.question_id].append(sample)
    keep: set[str] = set()
    for group in by_question.values():
        keep.update(s.id for s in sorted(group, key=quality_key, reverse=True)[:cap])
    for sample in samples:
        if sample.id not in keep:
            log.drop(sample, "over_question_cap", cap=cap)
    return [s for s in samples if s.id in keep]


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
    samples: list[Sample], ratios: Mapping[str, float], log: DropLog
) -> list[Sample]:
    """Down-sample named subjects to their ratios, keeping the best; other subjects pass."""
    if not ratios:
        return samples
    counts: dict[str, int] = defaultdict(int)
    for sample in samples:
        counts[sample.subject] += 1
    quotas = subject_quotas(counts, ratios)
    keep: set[str] = set()
    for subject, quota in quotas.items():
        group = sorted((s for s in samples if s.subject == subject), key=quality_key, reverse=True)
        keep.update(s.id for s in group[:quota])
    kept = []
    for sample in samples:
        if sample.subject not in quotas or sample.id in keep:
            kept.append(sample)
        else:
            log.drop(sample, "subject_ratio", quota=quotas[sample.subject])
    return kept


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
    samples: list[Sample], general: list[Sample], ratio: float, seed: int = 0
) -> tuple[list[Sample], dict[str, Any]]:
    """Add general samples so they make up `ratio` of the result (as far as the file allows)."""
    if not 0.0 <= ratio < 1.0:
        raise InputError(f"general data ratio must be in [0, 1), got {ratio}")
    wanted = round(ratio / (1.0 - ratio) * len(samples))
    chosen = random.Random(seed).sample(general, min(wanted, len(general)))
    if wanted > len(general):
        logger.warning("general data: wanted %d rows, the file has %d", wanted, len(general))
    info = {"ratio": ratio, "wanted": wanted, "available": len(general), "added": len(chosen)}
    return samples + chosen, info
