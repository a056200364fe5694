"""The run directory: one folder per run, every stage reads and writes files in it.

Layout (DESIGN.md):
    config.yaml  questions.jsonl  rejected.jsonl  attempts.jsonl  critiques.jsonl
    samples.jsonl  overrides.jsonl  export/  cache.sqlite  view.sqlite  stats.json  report.md
    plots/
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml

# Keys whose values never reach disk: config.yaml must be shareable.
_SECRET_HINTS = ("key", "apikey", "token", "secret", "password", "credentials")


class RunDir:
    """Paths of a run directory and the few helpers every stage needs."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def ensure(self) -> RunDir:
        self.root.mkdir(parents=True, exist_ok=True)
        return self

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


def _is_secret(key: str) -> bool:
    """api_key, token, hf_token, secret, password: yes. max_tokens, tokenizer, api_key_env (the
    name of an environment variable): no. Whole `_`-separated words are matched, not substrings."""
    words = key.lower().replace("-", "_").split("_")
    if words[-1] == "env":
        return False
    return (
        words[-1] in _SECRET_HINTS or words[-2:] == ["api", "key"] or key.lower() == "authorization"
    )


def _redact_value(key: str, value: Any) -> Any:
    if _is_secret(key) and value:
        return "<redacted>"
    if key.lower().endswith("url") and isinstance(value, str):
        # a base URL may carry credentials (user:pass@, ?api-key=): keep only what locates it
        from sciinstruct.llm.openai_compat import redact_url

        return redact_url(value)
    return redact(value)


def redact(values: Any) -> Any:
    """Drop values whose key looks secret (api_key, token, ...), recursively."""
    if isinstance(values, dict):
        return {k: _redact_value(str(k), v) for k, v in values.items()}
    if isinstance(values, list | tuple):
        return [redact(v) for v in values]
    return values
