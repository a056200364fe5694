"""Load and check training files (the export contract) before any model is touched.

Every problem is found here, before a trainer starts, and reported as one line naming the file,
the line and the field: a missing `rejected` in a DPO file, an empty file, a row longer than
`max_length` tokens. Rows are then reshaped into the dataset formats TRL expects:

- sft / rft: `messages` -> conversational prompt/completion (the last assistant turn is the
  completion) so that the loss can be put on the answer only; or `messages` as is.
- dpo: `prompt`, `chosen`, `rejected` (TRL's conversational preference format, unchanged).
- grpo: `prompt` plus the reference columns the rewards read (`answer`, `answer_type`, `unit`).
- rft questions: `prompt` messages (or a Question-schema `question`) plus `answer`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sciinstruct.errors import InputError
from sciinstruct.log import logger

ROLES = ("system", "user", "assistant")


@dataclass
class Row:
    """One input row and where it came from (for error messages)."""

    file: str
    line: int
    data: dict[str, Any]

    def error(self, message: str, field: str | None = None) -> InputError:
        return InputError(message, file=self.file, line=self.line, field=field)


@dataclass
class LoadedData:
    """Validated rows in TRL's shape, plus what the model card says about them."""

    rows: list[dict[str, Any]]
    source: str
    dropped_too_long: int = 0
    notes: list[str] = field(default_factory=list)


def iter_rows(path: str | Path) -> Iterator[Row]:
    """Rows of a .jsonl or .parquet file with their line (1-based; row number for parquet)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("training file not found", file=str(path))
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        for number, data in enumerate(pq.read_table(path).to_pylist(), start=1):
            yield Row(str(path), number, data)
        return
    with open(path, encoding="utf-8") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                data = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise InputError(f"invalid JSON ({exc.msg})", file=str(path), line=number) from exc
            if not isinstance(data, dict):
                raise InputError(
                    f"expected a JSON object, got {type(data).__name__}",
                    file=str(path),
                    line=number,
                )
            yield Row(str(path), number, data)


def _messages(row: Row, name: str, *, last_role: str | None = None) -> list[dict[str, str]]:
    value = row.data.get(name)
    if value is None:
        raise row.error("missing (expected a list of {role, content} messages)", name)
    if not isinstance(value, list) or not value:
        raise row.error("expected a non-empty list of {role, content} messages", name)
    for i, message in enumerate(value):
        if not isinstance(message, dict) or not isinstance(message.get("content"), str):
            raise row.error(f"message {i} needs a string 'content'", name)
        if message.get("role") not in ROLES:
            raise row.error(
                f"message {i} has role {message.get('role')!r}; expected one of {ROLES}", name
            )
    if last_role and value[-1]["role"] != last_role:
        raise row.error(
            f"the last message must be from the {last_role}, got {value[-1]['role']}", name
        )
    return [{"role": m["role"], "content": m["content"]} for m in value]


def _text(row: Row, name: str, *, required: bool = True) -> str | None:
    value = row.data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise row.error("expected a non-empty string", name)
    return value


def sft_row(row: Row, completion_only: bool = True) -> dict[str, Any] | None:
    """An sft.jsonl / rft.jsonl row; None when its weight is 0 (curation's way to drop it)."""
    messages = _messages(row, "messages", last_role="assistant")
    weight = row.data.get("weight", 1.0)
    if weight is None:
        weight = 1.0
    if not isinstance(weight, int | float) or weight < 0:
        raise row.error(f"expected a number >= 0, got {weight!r}", "weight")
    if weight == 0:
        return None
    if not completion_only:
        return {"messages": messages}
    if len(messages) < 2:
        raise row.error("needs a prompt turn before the assistant's answer", "messages")
    return {"prompt": messages[:-1], "completion": messages[-1:]}


def dpo_row(row: Row) -> dict[str, Any]:
    """A dpo.jsonl row: prompt messages, one chosen and one rejected assistant reply."""
    out: dict[str, Any] = {"prompt": _messages(row, "prompt", last_role="user")}
    for name in ("chosen", "rejected"):
        out[name] = _messages(row, name, last_role="assistant")
    if out["chosen"] == out["rejected"]:
        raise row.error("identical to 'chosen': the pair teaches nothing", "rejected")
    return out


def grpo_row(row: Row) -> dict[str, Any]:
    """A grpo.jsonl row: the prompt and the reference the reward functions grade against."""
    return {
        "prompt": _messages(row, "prompt", last_role="user"),
        "answer": _text(row, "answer"),
        "answer_type": _text(row, "answer_type", required=False) or "auto",
        "unit": _text(row, "unit", required=False),
    }


def question_row(row: Row) -> dict[str, Any]:
    """A question for RFT sampling: grpo.jsonl rows, or Question-schema rows (`question`)."""
    if "prompt" in row.data:
        out = grpo_row(row)
    else:
        out = {
            "prompt": [{"role": "user", "content": _text(row, "question")}],
            "answer": _text(row, "answer"),
            "answer_type": _text(row, "answer_type", required=False) or "auto",
            "unit": _text(row, "unit", required=False),
        }
    out["question_id"] = str(row.data.get("question_id") or row.data.get("id") or row.line)
    out["subject"] = row.data.get("subject")
    return out


def chat_lengths(tokenizer: Any, row: dict[str, Any]) -> dict[str, int]:
    """Token counts of each full sequence a row becomes, under the tokenizer's chat template."""

    def count(messages: list[dict[str, str]], generation_prompt: bool = False) -> int:
        ids = tokenizer.apply_chat_template(
            messages, tokenize=True, add_generation_prompt=generation_prompt, return_dict=False
        )
        return len(ids)

    if "messages" in row:
        return {"messages": count(row["messages"])}
    if "completion" in row:
        return {"messages": count(row["prompt"] + row["completion"])}
    if "chosen" in row:
        return {name: count(row["prompt"] + row[name]) for name in ("chosen", "rejected")}
    return {"prompt": count(row["prompt"], generation_prompt=True)}


def load(
    path: str | Path,
    convert: Callable[[Row], dict[str, Any] | None],
    tokenizer: Any,
    max_length: int,
    *,
    reserve: int = 0,
    too_long: str = "error",
) -> LoadedData:
    """Read, validate and convert every row; check lengths (`reserve` tokens kept for generation).

    Raises InputError on the first bad row, on a too-long row when `too_long="error"`, and when
    no usable row is left.
    """
    loaded = LoadedData(rows=[], source=str(path))
    limit = max_length - reserve
    for row in iter_rows(path):
        converted = convert(row)
        if converted is None:
            continue
        for name, n_tokens in chat_lengths(tokenizer, converted).items():
            if n_tokens > limit:
                if too_long == "drop":
                    loaded.dropped_too_long += 1
                    converted = None
                    break
                budget = f"max_length={max_length}" + (
                    f" - {reserve} for generation" if reserve else ""
                )
                raise row.error(
                    f"sequence is {n_tokens} tokens, longer than {budget}; raise max_length, "
                    "shorten the row, or set too_long=drop",
                    name,
                )
        if converted is not None:
            loaded.rows.append(converted)
    if loaded.dropped_too_long:
        note = f"dropped {loaded.dropped_too_long} rows longer than {limit} tokens"
        loaded.notes.append(note)
        logger.warning("%s: %s", path, note)
    if not loaded.rows:
        raise InputError(
            "no training rows (the file is empty or every row was dropped)", file=str(path)
        )
    return loaded


def to_datasets(
    rows: list[dict[str, Any]],
    eval_fraction: float,
    seed: int,
    eval_rows: list[dict[str, Any]] | None,
) -> tuple[Any, Any | None]:
    """A `datasets.Dataset` for training and one for eval loss (held out, or from eval_rows)."""
    from datasets import Dataset

    train = Dataset.from_list(rows)
    if eval_rows:
        return train, Dataset.from_list(eval_rows)
    n_eval = round(len(rows) * eval_fraction)
    if eval_fraction > 0 and n_eval == 0 and len(rows) >= 4:
        n_eval = 1  # a tiny file still gets an eval loss, from one held-out row
    if n_eval == 0:
        return train, None
    split = train.train_test_split(test_size=n_eval, seed=seed)
    return split["train"], split["test"]
