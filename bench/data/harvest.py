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


# The keys of a frozen table's row, in order (v8 on; `bench/data/README.md`).
KEYS = ("id", "family", "pred", "gold", "answer_type", "unit", "rtol", "choices", "question")
KEYS += ("finish_reason", "label", "source", "model", "source_flag", "note")


def new_rows(rows: list[dict], version: str) -> list[dict]:
    """`rows` without exact duplicates, each given its candidate id (`c0001`...): a response
    string that an earlier table (any `grader_*` file not of `version`) holds, or the same
    (response, reference) pair twice in this draw, is left out, the first occurrence kept."""
    earlier = set()
    for table in sorted(Path(__file__).parent.glob("grader_*.jsonl")):
        if f"_{version}" not in table.stem:
            text = table.read_text(encoding="utf-8")
            earlier |= {json.loads(line)["pred"] for line in text.splitlines()}
    pairs: set[tuple[str, str]] = set()
    kept = []
    for r in rows:
        if r["pred"] not in earlier and (r["pred"], r["gold"]) not in pairs:
            pairs.add((r["pred"], r["gold"]))
            kept.append(r)
    for n, r in enumerate(kept, start=1):
        r["cand"] = f"c{n:04d}"
    return kept


def write_table(rows: list[dict], version: str, out: Path) -> None:
    """Join the hand labels (`grader_<version>_labels.json`, candidate id -> label fields) and
    write the frozen table: rows labelled None are dropped, the kept ones get ids
    `ext<N>-0001`..."""
    here = Path(__file__).parent
    labels = json.loads((here / f"grader_{version}_labels.json").read_text(encoding="utf-8"))
    lines, k = [], 0
    for r in rows:
        lab = labels[r["cand"]]
        if lab["label"] is None:
            continue
        k += 1
        r = {**r, **lab, "id": f"ext{version.lstrip('v')}-{k:04d}"}
        r["source"] = (
            f"{r['source_repo']}@{r['source_commit']}:{r['source_path']} ({r['source_item']})"
        )
        lines.append(json.dumps({key: r[key] for key in KEYS}, ensure_ascii=False) + "\n")
    out.write_text("".join(lines), encoding="utf-8")
    print(k, "rows ->", out)
