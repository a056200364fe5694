"""A reviewer's word over the grader's: `RUN/overrides.jsonl`, append-only.

Each row overrules the verdict of one attempt: `{"attempt_id", "verdict": "correct" | "wrong",
"reason", "who", "when"}`. attempts.jsonl is never edited; the latest row of an attempt wins, so a
reviewer can change their mind by adding a row. `curate` and `export` read the file on every run:
an attempt overruled correct can become a sample, one overruled wrong cannot.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sciinstruct.errors import InputError
from sciinstruct.jsonl import BadLine, JsonlWriter, read_jsonl
from sciinstruct.log import logger
from sciinstruct.records import Attempt, Sample
from sciinstruct.rundir import RunDir

VERDICTS = ("correct", "wrong")
MAX_REASON = 2000  # a reason is a sentence or two; a pasted essay is a mistake


@dataclass(frozen=True)
class Override:
    attempt_id: str
    verdict: str  # "correct" or "wrong"
    reason: str
    who: str
    when: str  # ISO 8601, UTC

    @property
    def correct(self) -> bool:
        return self.verdict == "correct"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _parse(row: dict[str, Any], where: str) -> Override:
    """One row, checked: a row another tool wrote by hand must not flip verdicts silently."""
    if row.get("verdict") not in VERDICTS:
        raise InputError(
            f"field 'verdict': expected 'correct' or 'wrong', got {row.get('verdict')!r}",
            file=where,
        )
    if not isinstance(row.get("attempt_id"), str) or not row["attempt_id"]:
        raise InputError("field 'attempt_id': expected an attempt id", file=where)
    return Override(
        attempt_id=row["attempt_id"],
        verdict=row["verdict"],
        reason=str(row.get("reason", "")),
        who=str(row.get("who", "")),
        when=str(row.get("when", "")),
    )


def read_overrides(run: RunDir) -> list[Override]:
    """Every override row in file order (history included)."""
    bad: list[BadLine] = []
    rows = []
    for number, row in enumerate(read_jsonl(run.overrides, bad), start=1):
        rows.append(_parse(row, f"{run.overrides}:{number}"))
    for line in bad:
        logger.warning("skipped %s", line)
    return rows


def latest_overrides(run: RunDir) -> dict[str, Override]:
    """attempt id -> its current override (the last row for it)."""
    return {o.attempt_id: o for o in read_overrides(run)}


def add_override(
    run: RunDir, attempt_id: str, correct: bool, reason: str, who: str | None = None
) -> Override:
    """Append one override. The caller checks that the attempt exists (see `find_attempt`)."""
    reason = reason.strip()
    if not reason:
        raise InputError("an override needs a reason (--reason)", field="reason")
    if len(reason) > MAX_REASON:
        raise InputError(f"reason is {len(reason)} characters; at most {MAX_REASON}")
    override = Override(
        attempt_id=attempt_id,
        verdict="correct" if correct else "wrong",
        reason=reason,
        who=(who or "").strip() or _user(),
        when=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    # durable: a reviewer's decision is the one thing in the run no re-run can make again
    with JsonlWriter(run.overrides, durable=True) as writer:
        writer.write(override.to_dict())
    return override


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        return "unknown"


def find_attempt(run: RunDir, attempt_id: str) -> Attempt:
    """The attempt with this id, or an error naming the file; reads attempts.jsonl once."""
    needle = json.dumps(attempt_id)
    if run.attempts.exists():
        with open(run.attempts, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                # cheap test first: only lines that mention the id are parsed
                if needle in line:
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError:
                        continue
                    if row.get("id") == attempt_id:
                        return Attempt.model_validate(row)
    raise InputError(f"no attempt with id {attempt_id!r}", file=str(run.attempts))


def apply_overrides(
    attempts: Iterable[Attempt], overrides: dict[str, Override]
) -> Iterator[Attempt]:
    """Attempts with the reviewer's verdict in place of the grader's (copies; inputs untouched),
    one at a time as `attempts` are read.

    The grader's verdict and the override stay readable in `metadata["override"]`.
    """
    for attempt in attempts:
        override = overrides.get(attempt.id)
        if override is None:
            yield attempt
            continue
        metadata = {
            **attempt.metadata,
            "override": {**override.to_dict(), "grader": attempt.correct},
        }
        yield attempt.model_copy(
            update={
                "correct": override.correct,
                "grade_reason": f"overruled {override.verdict} by {override.who}: "
                f"{override.reason}",
                "metadata": metadata,
            }
        )


def source_attempt(sample: Sample) -> str | None:
    """The attempt a sample's solution is (the last of its lineage)."""
    ids = sample.provenance.attempt_ids
    return ids[-1] if ids else None


def is_overruled_wrong(sample: Sample, overrides: dict[str, Override]) -> bool:
    """Whether a reviewer marked the sample's own attempt wrong."""
    override = overrides.get(source_attempt(sample) or "")
    return override is not None and not override.correct


def overruled_wrong(samples: Iterable[Sample], overrides: dict[str, Override]) -> list[Sample]:
    """The samples whose own attempt a reviewer marked wrong."""
    return [s for s in samples if is_overruled_wrong(s, overrides)]


def counts(overrides: dict[str, Override]) -> dict[str, int]:
    """{"correct": n, "wrong": m} over the current overrides, for stats and the overview."""
    out = dict.fromkeys(VERDICTS, 0)
    for override in overrides.values():
        out[override.verdict] += 1
    return out
