"""What a grading server's worker process runs: one item's score, by name over the sandbox pipe.

The server starts these workers through `sciinstruct.grading.sandbox.WorkerPool`, which gives
each task a hard time limit: a worker still busy past it is killed and replaced, whatever the
item did to it (a regex or parser that never returns, a flood of memory). Only the functions in
`OPS` can be called, and only with JSON arguments.
"""

from __future__ import annotations

import time
from typing import Any

from sciinstruct.grading.sandbox import shared_pool
from sciinstruct.integrations.scoring import RewardSelection, score_one


def score(
    response: str,
    reference: Any,
    question: str | None,
    finish_reason: str | None,
    rewards: list[str],
    weights: list[float],
    timeout: float,
) -> dict[str, Any]:
    """One item's score row (`sciinstruct.integrations.scoring`), with `elapsed_s`, the seconds
    its grading took in this worker."""
    start = time.monotonic()
    selection = RewardSelection(tuple(rewards), tuple(weights))
    row = score_one(
        response, reference, question, selection, timeout=timeout, finish_reason=finish_reason
    )
    return {**row, "elapsed_s": round(time.monotonic() - start, 4)}


def warmup() -> None:
    """Import the grader and start its symbolic-check worker before the first item's clock,
    with a spare beside it: an item that overruns gets that worker killed, and the item after
    it must not pay the successor's cold start."""
    score("so \\boxed{x^2+2x+1}", "(x+1)^2", None, None, ["correctness", "format"], [1, 1], 60.0)
    shared_pool().keep_spare()


OPS = {"score": score}
