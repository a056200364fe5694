"""What every harvest script of a frozen grader table shares: reading a fetched mirror at its
commit, a draw stratified on the source's own flag, the row shape, and writing the candidates.

Each `grader_vN_harvest.py` keeps only what is particular to its sources (which files, which
items, how a reference is read). The draws depend only on each script's seed and calls, so
moving these helpers here changes no candidate.
"""

from __future__ import annotations

import json
import random
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

MIRROR = Path("/work/.mirror")


def _git(repo: str, *args: str) -> str:
    d = MIRROR / repo.replace("/", "+") / "repo"
    return subprocess.run(
        ["git", "-C", str(d), *args], capture_output=True, text=True, check=True
    ).stdout


def git_show(repo: str, path: str) -> str:
    return _git(repo, "show", f"HEAD:{path}")


def commit(repo: str) -> str:
    return _git(repo, "rev-parse", "HEAD").strip()


def stratified(
    items: list, flag: Callable[[Any], bool], n: int, rng: random.Random, true_share: float = 0.5
) -> list:
    """n items, about true_share of them with flag(item) true, drawn after a shuffle."""
    pos = [x for x in items if flag(x)]
    neg = [x for x in items if not flag(x)]
    rng.shuffle(pos)
    rng.shuffle(neg)
    k = min(len(pos), round(n * true_share))
    take = pos[:k] + neg[: n - k]
    if len(take) < n:
        take += pos[k : k + n - len(take)]
    return take


def candidate(**fields: Any) -> dict:
    """One candidate row: the table's defaults, overridden by `fields`."""
    return {
        "answer_type": "auto",
        "unit": None,
        "rtol": None,
        "choices": None,
        "question": None,
        "finish_reason": "stop",
        **fields,
    }


def write_candidates(rows: list[dict], out: Path) -> None:
    """Stamp each row with its source's commit and write them as JSONL."""
    commits = {r: commit(r) for r in {x["source_repo"] for x in rows}}
    for r in rows:
        r["source_commit"] = commits[r["source_repo"]]
    out.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    print(len(rows), "candidates ->", out)
