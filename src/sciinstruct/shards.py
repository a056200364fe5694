"""Past one driver: a run split into shards, each annotated by its own driver, merged back.

    run/questions.jsonl ─ split ─► run/shards/001-of-004/  (a run directory: questions.jsonl,
                                    run/shards/002-of-004/   attempts.jsonl, cache.sqlite,
                                    ...                      its own lock; any machine drives it)
                        ◄─ merge ─ attempts.jsonl, cache.sqlite, stats.json, config.yaml

A question's shard is a hash of its id (`shard_of`), so the partition is the same on every
machine and for every re-split: questions added later land in the shard they always would.
A shard is an ordinary run directory; `sciinstruct annotate --run run/shards/003-of-008` drives
it, resumes it after a kill and refuses a second driver on it, all as for any run. Its attempts
are those an unsharded run makes for its questions: an attempt's id and its requests (prompt,
seed) depend only on the question and the plan (`annotate/stages.py`).

`merge` rebuilds the run's own files from the shards, always from scratch, so it is idempotent
and may run while shards are unfinished (run it again when they are). Its result equals an
unsharded run of the same questions, seeds and model: the same attempt records except for their
order in the file and the timing fields (`TIMING_FIELDS`), the same funnel counts in stats.json
(`wall_s` and `requests` excepted: they describe invocations), and therefore the same files
downstream (`filter`, `curate`, `export`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sciinstruct.annotate import AnnotateConfig, run_annotate
from sciinstruct.distributed import Executor, LocalExecutor
from sciinstruct.errors import InputError, SciInstructError
from sciinstruct.llm.base import Backend
from sciinstruct.log import logger
from sciinstruct.rundir import RunDir
from sciinstruct.runlock import LEASE_S, holder_summary

# Attempt fields (dotted paths) that describe one invocation rather than the attempt: when it
# was written, how long the call took, whether the cache answered. The sharded and the
# unsharded run differ in them and nowhere else.
TIMING_FIELDS = ("created", "usage.latency_s", "usage.cached")
# stats.json's `annotate` counts that are not sums over the shards
_PER_INVOCATION = ("wall_s",)


def shard_of(question_id: str, count: int) -> int:
    """The shard (0-based) a question belongs to: a hash of its id, the same everywhere."""
    digest = hashlib.sha256(question_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count


def shard_runs(run: RunDir) -> list[RunDir]:
    """The run's shards, in order, as the manifest names them ([] for an unsharded run)."""
    count = _manifest(run).get("count")
    return [run.shard(i, count) for i in range(count)] if count else []


def _manifest(run: RunDir) -> dict[str, Any]:
    if not run.shards_manifest.exists():
        return {}
    return json.loads(run.shards_manifest.read_text(encoding="utf-8"))


# -- split -------------------------------------------------------------------------------------
def split(run: RunDir, count: int) -> list[RunDir]:
    """Partition `run/questions.jsonl` into `count` shards, streaming (memory does not grow with
    the questions). Splitting again with the same count adds the run's new questions to their
    shards; a run's first split also hands its attempts so far to the shards that own them."""
    if count < 1:
        raise InputError(f"must be >= 1, got {count}", field="shards")
    if not run.questions.exists():
        raise InputError(
            "no questions to split: run `sciinstruct ingest` first", file=str(run.questions)
        )
    existing = _manifest(run).get("count")
    if existing and existing != count:
        raise InputError(
            f"the run is split into {existing} shards already; drive those (or merge them and "
            f"remove {run.shards_dir}) rather than splitting into {count}",
            file=str(run.shards_manifest),
        )
    shards = [run.shard(i, count) for i in range(count)]
    with contextlib.ExitStack() as locks:
        locks.enter_context(run.lock("shards split"))
        for shard in shards:  # a shard being annotated must not have its questions rewritten
            locks.enter_context(shard.lock("shards split"))
        sizes = _partition(run.questions, [s.questions for s in shards], "id")
        if not existing and run.attempts.exists():
            _partition(run.attempts, [s.attempts for s in shards], "question_id")
        _write_json(run.shards_manifest, {"count": count, "questions": sizes})
    return shards


def _partition(source: Path, targets: Sequence[Path], key: str) -> list[int]:
    """Each line of `source` to the target of `shard_of(row[key])`, written whole and atomically
    (a killed split leaves the old files); returns the lines per target."""
    sizes = [0] * len(targets)
    with contextlib.ExitStack() as stack:
        for target in targets:
            target.parent.mkdir(parents=True, exist_ok=True)
        tmps = [t.with_name(t.name + ".split.tmp") for t in targets]
        outs = [stack.enter_context(open(t, "wb")) for t in tmps]
        with open(source, "rb") as fh:
            for number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)[key]
                except (ValueError, KeyError, TypeError):
                    logger.warning("%s:%d: skipped an unreadable line", source, number)
                    continue
                index = shard_of(str(value), len(targets))
                outs[index].write(line if line.endswith(b"\n") else line + b"\n")
                sizes[index] += 1
    for tmp, target in zip(tmps, targets, strict=True):
        os.replace(tmp, target)
    return sizes


# -- merge -------------------------------------------------------------------------------------
@dataclass
class MergeResult:
    shards: int
    attempts: int = 0
    per_shard: list[int] = field(default_factory=list)  # attempts of each shard
    unfinished: list[str] = field(default_factory=list)  # shards with questions still to decide
    skipped_lines: int = 0  # unreadable lines (a killed shard's cut-off tail)


def merge(run: RunDir) -> MergeResult:
    """Rebuild the run's attempts, response cache, `annotate` stats and config from its shards.

    Every shard's lock is taken first, so a merge never reads a shard its driver is writing
    (a running driver is named in the refusal)."""
    shards = shard_runs(run)
    if not shards:
        raise InputError(
            "the run has no shards: run `sciinstruct shards split` first", file=str(run.root)
        )
    result = MergeResult(len(shards))
    with contextlib.ExitStack() as locks:
        locks.enter_context(run.lock("shards merge"))
        for shard in shards:
            locks.enter_context(shard.lock("shards merge"))
        config = _merged_config(shards)
        result.per_shard, result.skipped_lines = _concat_attempts(shards, run.attempts)
        result.attempts = sum(result.per_shard)
        _merge_caches([s.cache for s in shards], run.cache)
        shard_stats = [s.read_stats() for s in shards]
        stats = [st.get("annotate") for st in shard_stats]
        sizes = _manifest(run).get("questions", [None] * len(shards))
        result.unfinished = [
            s.root.name
            for s, st, size in zip(shards, stats, sizes, strict=True)
            if not _finished(st, size)
        ]
        if config is not None:
            run.update_config("annotate", config)
        if any(st is not None for st in stats):
            run.update_stats("annotate", _sum_stats([st for st in stats if st is not None]))
        run.update_stats(
            "shards",
            {
                "count": len(shards),
                "attempts": result.per_shard,
                "unfinished": result.unfinished,
                "drivers": [st.get("driver") for st in shard_stats],
            },
        )
    return result


def _finished(stats: dict[str, Any] | None, questions: int | None) -> bool:
    """A shard whose last annotate ended with every one of its questions decided."""
    if stats is None or (questions is not None and stats.get("questions") != questions):
        return False  # never finished, or questions were added by a later split
    return not stats.get("pending") and not stats.get("failed")


def _merged_config(shards: Sequence[RunDir]) -> dict[str, Any] | None:
    """The shards' one `annotate` config; shards annotated differently cannot make one run."""
    found: dict[str, Any] | None = None
    first = ""
    for shard in shards:
        section = shard.read_config().get("annotate")
        if section is None:
            continue
        if found is None:
            found, first = section, shard.root.name
        elif section != found:
            key = next(
                k for k in sorted(set(found) | set(section)) if found.get(k) != section.get(k)
            )
            raise InputError(
                f"shard {shard.root.name} was annotated with {key}={section.get(key)!r} and "
                f"shard {first} with {found.get(key)!r}: shards of one run share one config",
                file=str(shard.config),
            )
    return found


def _concat_attempts(shards: Sequence[RunDir], target: Path) -> tuple[list[int], int]:
    """The shards' attempts files one after another into `target` (atomically), whole lines
    only: a shard killed mid-line has its cut-off tail skipped (its next run rewrites it)."""
    per_shard, skipped = [], 0
    tmp = target.with_name(target.name + ".merge.tmp")
    with open(tmp, "wb") as out:
        for shard in shards:
            n = 0
            if shard.attempts.exists():
                with open(shard.attempts, "rb") as fh:
                    for line in fh:
                        if not line.strip():
                            continue
                        if not line.endswith(b"\n"):
                            skipped += 1
                            continue
                        out.write(line)
                        n += 1
            per_shard.append(n)
    os.replace(tmp, target)
    return per_shard, skipped


def _merge_caches(sources: Sequence[Path], target: Path) -> None:
    """Every shard's cached completions into the run's cache, so re-running any stage on the
    merged run asks no LLM call again. INSERT OR IGNORE: merging twice adds nothing."""
    from sciinstruct.llm.cache import ResponseCache

    ResponseCache(target).close()  # creates the file with the one schema
    conn = sqlite3.connect(target, isolation_level=None)
    try:
        columns = ", ".join(row[1] for row in conn.execute("PRAGMA table_info(responses)"))
        for source in sources:
            if not source.exists():
                continue
            conn.execute("ATTACH DATABASE ? AS shard", (str(source),))
            try:
                conn.execute(
                    f"INSERT OR IGNORE INTO main.responses ({columns}) "
                    f"SELECT {columns} FROM shard.responses"
                )
            finally:
                conn.execute("DETACH DATABASE shard")
    finally:
        conn.close()


def _sum_stats(sections: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The shards' `annotate` stats as one run's: counts add up; `wall_s` is the longest (the
    shards ran side by side)."""

    def combine(values: list[Any], key: str = "") -> Any:
        first = values[0]
        if isinstance(first, dict):
            keys = dict.fromkeys(k for v in values for k in v)
            return {k: combine([v[k] for v in values if k in v], k) for k in keys}
        if isinstance(first, bool) or not isinstance(first, int | float):
            return first
        return max(values) if key in _PER_INVOCATION else round(sum(values), 6)

    return combine(list(sections))


# -- driving every shard -----------------------------------------------------------------------
@dataclass(frozen=True)
class ShardJob:
    """One shard's annotation, sent to wherever it runs (this process or a Ray task): plain
    data plus a picklable engine factory, so the engine is built where the shard runs."""

    root: str
    make_engine: Callable[[], Backend]
    config: AnnotateConfig
    close_engine: bool = True  # False where the caller shares one engine across shards
    wait_s: float = 2 * LEASE_S  # a retried task waits out its dead predecessor's lock


def annotate_shard(job: ShardJob) -> dict[str, Any]:
    """Annotate one shard with its own engine; returns its funnel's stats. The shard's lock is
    taken for the host the job runs on."""
    shard = RunDir(job.root)
    engine = job.make_engine()
    try:
        with shard.lock("annotate", wait_s=job.wait_s):
            funnel = run_annotate(shard, engine, job.config)
            record_driver(shard)
    finally:
        if job.close_engine:
            engine.close()
    return funnel.to_stats()


def record_driver(shard: RunDir) -> None:
    """Which machine drove the shard (a Ray task's worker), for `merge` to record."""
    shard.update_stats("driver", {"host": socket.gethostname(), "pid": os.getpid()})


class ShardsFailed(SciInstructError):
    """Some shards failed; the others' work is kept and the same command resumes the rest."""


def annotate_shards(
    run: RunDir,
    count: int,
    make_engine: Callable[[], Backend],
    config: AnnotateConfig,
    executor: Executor | None = None,
    close_engine: bool = True,
) -> MergeResult:
    """Split the run into `count` shards, annotate each and merge them: one after another in
    this process, or side by side as Ray tasks with a `RayExecutor` (each task builds its engine
    with `make_engine`; with `close_engine=False` the shards share the one it returns)."""

    def job(shard: RunDir) -> ShardJob:
        return ShardJob(str(shard.root.resolve()), make_engine, config, close_engine)

    return drive_shards(run, count, annotate_shard, job, executor)


def drive_shards(
    run: RunDir,
    count: int,
    task: Callable[[Any], Any],
    job: Callable[[RunDir], Any],
    executor: Executor | None = None,
) -> MergeResult:
    """Split, run `task(job(shard))` for every shard on `executor` (default: here, in turn;
    a `RayExecutor`: Ray tasks side by side), and merge what finished. A failed shard does not
    stop the others; the failures are raised after the merge, naming each shard."""
    shards = split(run, count)
    outcomes = (executor or LocalExecutor()).run_tasks(task, [job(s) for s in shards])
    result = merge(run)
    failed = [(s, o) for s, o in zip(shards, outcomes, strict=True) if isinstance(o, BaseException)]
    if failed and len(failed) == count and isinstance(failed[0][1], InputError):
        raise failed[0][1]  # the same bad option in every shard: one error, exit 2
    if failed:
        names = "; ".join(f"{s.root.name}: {o}" for s, o in failed)
        raise ShardsFailed(
            f"{len(failed)} of {count} shards failed ({names}); the others are merged into "
            f"{run.root}; run the same command to resume the failed shards"
        )
    return result


# -- status ------------------------------------------------------------------------------------
def status(run: RunDir) -> Iterator[dict[str, Any]]:
    """One row per shard: questions, attempts so far, solved (once its annotate finished) and
    who holds its lock (`alive` False: a dead driver's, taken over by the next)."""
    sizes = _manifest(run).get("questions", [])
    for index, shard in enumerate(shard_runs(run)):
        stats = shard.read_stats().get("annotate")
        yield {
            "shard": shard.root.name,
            "questions": sizes[index] if index < len(sizes) else None,
            "attempts": _count_lines(shard.attempts),
            "solved": stats.get("solved_total") if stats else None,
            "holder": holder_summary(shard.root),
        }


def _count_lines(path: Path) -> int:
    if not path.exists():
        return 0
    with open(path, "rb") as fh:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)
