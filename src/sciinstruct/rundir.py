"""The run directory: one folder per run, every stage reads and writes files in it.

Layout (docs/architecture.md):
    config.yaml  questions.jsonl  rejected.jsonl  attempts.jsonl  critiques.jsonl
    filtered.jsonl  dropped.jsonl  classifier/  samples.jsonl  overrides.jsonl  export/
    cache.sqlite  view.sqlite  stats.json  report.md  plots/  generated.jsonl  model/  eval/
    .lock  .lock.json (the writer lock and its holder)  shards/NNN-of-MMM/ (a sharded run)

`RunDir` owns every name in it: a stage asks the run for a path, never spells a file name, so
no stage imports another for where a file lives.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml

from sciinstruct.redact import redact
from sciinstruct.runlock import Holder, RunLock, read_holder

F = TypeVar("F", bound=Callable[..., Any])


class RunDir:
    """Paths of a run directory and the few helpers every stage needs."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def ensure(self) -> RunDir:
        self.root.mkdir(parents=True, exist_ok=True)
        return self

    # -- one writer at a time (runlock.py) ----------------------------------------------------
    def lock(self, stage: str = "", wait_s: float = 0.0) -> RunLock:
        """Take the run's writer lock: `with run.lock("annotate"):`. A second writer gets
        `RunLockedError` naming the holder; readers never need it. Re-entrant in a process."""
        return RunLock(self.root, stage).acquire(wait_s)

    def lock_holder(self) -> Holder | None:
        """Who holds (or last held and died holding) the run's lock, from its record."""
        return read_holder(self.root)

    # -- files of the layout ------------------------------------------------------------------
    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def questions(self) -> Path:
        return self.root / "questions.jsonl"

    @property
    def rejected(self) -> Path:
        return self.root / "rejected.jsonl"

    @property
    def attempts(self) -> Path:
        return self.root / "attempts.jsonl"

    @property
    def critiques(self) -> Path:
        return self.root / "critiques.jsonl"

    @property
    def filtered(self) -> Path:
        """Solutions the quality filter kept (`sciinstruct filter`); curate reads it if present."""
        return self.root / "filtered.jsonl"

    @property
    def dropped(self) -> Path:
        """The drop log: every row a filter or curation step left out, and why."""
        return self.root / "dropped.jsonl"

    @property
    def classifier_dir(self) -> Path:
        """Where the filter saves a trained quality classifier unless told otherwise."""
        return self.root / "classifier"

    @property
    def samples(self) -> Path:
        return self.root / "samples.jsonl"

    @property
    def overrides(self) -> Path:
        """Reviewers' verdicts over the grader's (append-only; `sciinstruct override`)."""
        return self.root / "overrides.jsonl"

    @property
    def view_index(self) -> Path:
        """`sciinstruct view`'s index of the run's files, rebuilt when they change."""
        return self.root / "view.sqlite"

    @property
    def export_dir(self) -> Path:
        return self.root / "export"

    def export_file(self, fmt: str, suffix: str = "jsonl") -> Path:
        """`export/<fmt>.jsonl`: sft, rft, dpo or grpo."""
        return self.export_dir / f"{fmt}.{suffix}"

    @property
    def generated(self) -> Path:
        """Questions a recipe generated from templates (with `generated.sha`, their marker)."""
        return self.root / "generated.jsonl"

    @property
    def model_dir(self) -> Path:
        """The model a recipe trained."""
        return self.root / "model"

    @property
    def eval_dir(self) -> Path:
        """A recipe's evaluations: `eval/base`, `eval/tuned`, `eval/compare`."""
        return self.root / "eval"

    @property
    def shards_dir(self) -> Path:
        """A sharded run's shards (`shards.py`), each a run directory of its own."""
        return self.root / "shards"

    @property
    def shards_manifest(self) -> Path:
        """How the run was split: the shard count and each shard's questions."""
        return self.shards_dir / "shards.json"

    def shard(self, index: int, count: int) -> RunDir:
        """Shard `index` of `count` (0-based): `shards/003-of-008/` is index 2 of 8."""
        return RunDir(self.shards_dir / f"{index + 1:03d}-of-{count:03d}")

    @property
    def cache(self) -> Path:
        return self.root / "cache.sqlite"

    @property
    def stats(self) -> Path:
        return self.root / "stats.json"

    @property
    def report(self) -> Path:
        return self.root / "report.md"

    @property
    def plots_dir(self) -> Path:
        return self.root / "plots"

    # -- stats.json: one section per stage, merged so stages never overwrite each other -------
    def read_stats(self) -> dict[str, Any]:
        if not self.stats.exists():
            return {}
        return json.loads(self.stats.read_text(encoding="utf-8"))

    def update_stats(self, section: str, values: dict[str, Any]) -> dict[str, Any]:
        """Replace one stage's section of stats.json atomically and return the whole file."""
        self.ensure()
        stats = self.read_stats()
        stats[section] = values
        tmp = self.stats.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(stats, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, self.stats)
        return stats

    # -- config.yaml: the resolved config of each stage, without secrets -----------------------
    def read_config(self) -> dict[str, Any]:
        if not self.config.exists():
            return {}
        return yaml.safe_load(self.config.read_text(encoding="utf-8")) or {}

    def update_config(self, section: str, values: dict[str, Any]) -> None:
        self.ensure()
        config = self.read_config()
        config[section] = redact(values)
        tmp = self.config.with_suffix(".yaml.tmp")
        tmp.write_text(yaml.safe_dump(config, sort_keys=True, allow_unicode=True), encoding="utf-8")
        os.replace(tmp, self.config)


def writes_run(stage: str, arg: str = "run") -> Callable[[F], F]:
    """Make a stage function the run's one writer: `@writes_run("annotate")` takes the run's
    lock (argument `arg`, a RunDir or a path) around every call, so a second process writing
    the same run is refused at once. Re-entrant: a stage runner may hold the lock already."""

    def wrap(fn: F) -> F:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def locked(*args: Any, **kwargs: Any) -> Any:
            run = signature.bind(*args, **kwargs).arguments[arg]
            with (run if isinstance(run, RunDir) else RunDir(run)).lock(stage):
                return fn(*args, **kwargs)

        return locked  # type: ignore[return-value]

    return wrap
