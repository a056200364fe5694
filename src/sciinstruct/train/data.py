"""Load and check training files (the export contract) before any model is touched.

Every problem is found here, before a trainer starts, and reported as one line naming the file,
the line and the field: a missing `rejected` in a DPO file, an empty file, a row longer than
`max_length` tokens. Rows are then reshaped into the dataset formats TRL expects:

- sft / rft: `messages` -> conversational prompt/completion (the last assistant turn is the
  completion) so that the loss can be put on the answer only; or `messages` as is. A row's
  `weight` is honoured by sampling: see `weighted_copies`.
- dpo: `prompt`, `chosen`, `rejected` (TRL's conversational preference format, unchanged).
- grpo: `prompt` plus the reference columns the rewards read (`answer`, `answer_type`, `unit`,
  `choices`, `metadata`).
- rft questions: `prompt` messages (or a Question-schema `question`) plus the same columns.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sciinstruct.errors import InputError
from sciinstruct.log import logger
from sciinstruct.rows import Row, read_rows

ROLES = ("system", "user", "assistant")


@dataclass
class LoadedData:
    """Validated rows in TRL's shape, plus what the model card says about them."""

    rows: list[dict[str, Any]]
    source: str
    dropped_too_long: int = 0
    dropped_by_weight: int = 0  # rows a weight below 1 (or of 0) left out
    repeated_by_weight: int = 0  # extra copies a weight above 1 added
    notes: list[str] = field(default_factory=list)


def iter_rows(path: str | Path) -> Iterator[Row]:
    """Rows of a training file (.jsonl, .parquet, ...) with their line; the first unreadable row
    is an InputError naming file and line."""
    path = Path(path)
    if not path.is_file():
        raise InputError("training file not found", file=str(path))
    return read_rows(path)


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


def _unit_hash(data: Mapping[str, Any], seed: int) -> float:
    """A number in [0, 1) fixed by the row's content and the seed: the same on every load and
    machine (no RNG state), independent of the row's position in the file."""
    text = json.dumps(data, sort_keys=True, ensure_ascii=False)
    digest = hashlib.sha256(f"{seed}\0{text}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def weighted_copies(data: Mapping[str, Any], weight: float, seed: int) -> int:
    """How many times a row of this `weight` is trained on: floor(weight), plus one more with
    probability equal to the fractional part, decided by a hash of the row and the seed.

    So weight 0.5 keeps about half the rows, 1 keeps each once, 2.5 trains on each twice and
    half of them three times: in expectation every row counts `weight` times.
    """
    whole = math.floor(weight)
    fraction = weight - whole
    return whole + (1 if fraction and _unit_hash(data, seed) < fraction else 0)


def _weight(row: Row) -> float:
    weight = row.data.get("weight", 1.0)
    if weight is None:
        return 1.0
    if (
        isinstance(weight, bool)
        or not isinstance(weight, int | float)
        or not math.isfinite(weight)
        or weight < 0
    ):
        raise row.error(f"expected a finite number >= 0, got {weight!r}", "weight")
    return float(weight)


def sft_row(row: Row, completion_only: bool = True, seed: int = 0) -> list[dict[str, Any]]:
    """An sft.jsonl / rft.jsonl row, as many times as its weight says (`weighted_copies`).

    Weight 0 (curation's way to drop a row) gives no copy. The row is checked whatever its
    weight, so a bad row is reported even when it would have been left out.
    """
    messages = _messages(row, "messages", last_role="assistant")
    weight = _weight(row)
    if completion_only and len(messages) < 2:
        raise row.error("needs a prompt turn before the assistant's answer", "messages")
    if completion_only:
        out = {"prompt": messages[:-1], "completion": messages[-1:]}
    else:
        out = {"messages": messages}
    return [dict(out) for _ in range(weighted_copies(row.data, weight, seed))]


def dpo_row(row: Row) -> dict[str, Any]:
    """A dpo.jsonl row: prompt messages, one chosen and one rejected assistant reply."""
    out: dict[str, Any] = {"prompt": _messages(row, "prompt", last_role="user")}
    for name in ("chosen", "rejected"):
        out[name] = _messages(row, name, last_role="assistant")
    if out["chosen"] == out["rejected"]:
        raise row.error("identical to 'chosen': the pair teaches nothing", "rejected")
    return out


def _choices(row: Row) -> list[str] | None:
    value = row.data.get("choices")
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        raise row.error("expected a list of option texts (strings) or null", "choices")
    return value


def _metadata(row: Row) -> str:
    """The row's metadata as JSON text ("{}" when absent): one string column, whatever keys
    each question carries; the grader and the scientific-format rewards parse it back."""
    value = row.data.get("metadata")
    if value is None:
        return "{}"
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except json.JSONDecodeError as exc:
            raise row.error(f"not valid JSON ({exc.msg})", "metadata") from exc
    if not isinstance(value, dict):
        raise row.error(f"expected a JSON object, got {type(value).__name__}", "metadata")
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _reference(row: Row) -> dict[str, Any]:
    """The columns the grader needs besides the prompt: answer, its type, unit, choices and
    metadata (per-question tolerances, format constraints)."""
    return {
        "answer": _text(row, "answer"),
        "answer_type": _text(row, "answer_type", required=False) or "auto",
        "unit": _text(row, "unit", required=False),
        "choices": _choices(row),
        "metadata": _metadata(row),
    }


def _question_text(row: Row) -> str:
    """A Question-schema row's user turn: the question, then its lettered options if any (as
    `export` writes grpo prompts, so the model sees what a letter answer refers to)."""
    text = _text(row, "question") or ""
    choices = _choices(row)
    if not choices:
        return text
    return text.rstrip() + "\n\n" + "\n".join(f"{chr(65 + i)}. {c}" for i, c in enumerate(choices))


def grpo_row(row: Row) -> dict[str, Any]:
    """A grpo.jsonl row: the prompt and the reference the reward functions grade against."""
    return {"prompt": _messages(row, "prompt", last_role="user"), **_reference(row)}


def question_row(row: Row) -> dict[str, Any]:
    """A question for RFT sampling: grpo.jsonl rows, or Question-schema rows (`question`)."""
    if "prompt" in row.data:
        out = grpo_row(row)
    else:
        out = {"prompt": [{"role": "user", "content": _question_text(row)}], **_reference(row)}
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


Converted = dict[str, Any] | list[dict[str, Any]] | None


def _fits(
    row: Row,
    converted: dict[str, Any],
    tokenizer: Any,
    max_length: int,
    reserve: int,
    too_long: str,
) -> bool:
    """Whether every sequence of the row fits in `max_length - reserve` tokens; a row that does
    not is an error, or False with `too_long="drop"`."""
    for name, n_tokens in chat_lengths(tokenizer, converted).items():
        if n_tokens <= max_length - reserve:
            continue
        if too_long == "drop":
            return False
        budget = f"max_length={max_length}" + (f" - {reserve} for generation" if reserve else "")
        raise row.error(
            f"sequence is {n_tokens} tokens, longer than {budget}; raise max_length, "
            "shorten the row, or set too_long=drop",
            name,
        )
    return True


def _note(loaded: LoadedData, path: str | Path, limit: int) -> None:
    """Say in the notes (which the model card keeps) and the log what loading left out or added."""
    if loaded.dropped_too_long:
        note = f"dropped {loaded.dropped_too_long} rows longer than {limit} tokens"
        loaded.notes.append(note)
        logger.warning("%s: %s", path, note)
    if loaded.dropped_by_weight or loaded.repeated_by_weight:
        note = (
            f"sample weights: dropped {loaded.dropped_by_weight} rows, added "
            f"{loaded.repeated_by_weight} repeated copies"
        )
        loaded.notes.append(note)
        logger.info("%s: %s", path, note)


def load(
    path: str | Path,
    convert: Callable[[Row], Converted],
    tokenizer: Any,
    max_length: int,
    *,
    reserve: int = 0,
    too_long: str = "error",
) -> LoadedData:
    """Read, validate and convert every row; check lengths (`reserve` tokens kept for generation).

    `convert` returns the row in TRL's shape, or a list of copies of it (as many as its sample
    weight says; an empty list or None leaves the row out). Raises InputError on the first bad
    row, on a too-long row when `too_long="error"`, and when no usable row is left.
    """
    loaded = LoadedData(rows=[], source=str(path))
    for row in iter_rows(path):
        converted = convert(row)
        copies = [converted] if isinstance(converted, dict) else list(converted or [])
        if not copies:
            loaded.dropped_by_weight += 1
            continue
        # The copies are identical: the first one's length stands for all of them.
        if not _fits(row, copies[0], tokenizer, max_length, reserve, too_long):
            loaded.dropped_too_long += 1
            continue
        loaded.repeated_by_weight += len(copies) - 1
        loaded.rows.extend(copies)
    _note(loaded, path, max_length - reserve)
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
    """A `datasets.Dataset` for training and one for eval loss (held out, or from eval_rows).

    Rows are held out by content: every copy a sample weight made goes to the same side, so the
    eval loss is never measured on a row the model trained on.
    """
    from datasets import Dataset

    if eval_rows:
        return Dataset.from_list(rows), Dataset.from_list(eval_rows)
    keys = [json.dumps(r, sort_keys=True, ensure_ascii=False) for r in rows]
    distinct = list(dict.fromkeys(keys))
    n_eval = round(len(distinct) * eval_fraction)
    if eval_fraction > 0 and n_eval == 0 and len(distinct) >= 4:
        n_eval = 1  # a tiny file still gets an eval loss, from one held-out row
    if n_eval == 0:
        return Dataset.from_list(rows), None
    held = set(random.Random(seed).sample(distinct, n_eval))
    train = [r for r, k in zip(rows, keys, strict=True) if k not in held]
    by_key = dict(zip(keys, rows, strict=True))  # copies are equal: any one will do
    held_out = [by_key[k] for k in distinct if k in held]  # one copy each, in file order
    return Dataset.from_list(train), Dataset.from_list(held_out)
