"""Read rows of a published data file, whatever its container: JSONL, JSON, CSV, Parquet, a
directory of such files, or a Hugging Face dataset saved with `save_to_disk`.

Each row comes with the file and line (or index) it came from, so a loader can say exactly where a
bad row is.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sciinstruct.errors import InputError
from sciinstruct.jsonl import read_jsonl


@dataclass(frozen=True)
class Row:
    """One raw row and where it is: `line` is the 1-based line (JSONL, CSV) or index (JSON)."""

    data: dict[str, Any]
    file: str
    line: int


def is_hf_saved_dataset(path: Path) -> bool:
    """True for a directory written by `datasets.Dataset(Dict).save_to_disk`."""
    return path.is_dir() and any(
        (path / name).exists() for name in ("dataset_info.json", "state.json", "dataset_dict.json")
    )


def read_hf_saved(path: Path, split: str) -> Iterator[Row]:
    """Rows of a saved Hugging Face dataset; a DatasetDict is indexed by `split`."""
    from sciinstruct.errors import require

    datasets = require("datasets", "Hugging Face datasets", 'pip install "sciinstruct[train]"')
    loaded = datasets.load_from_disk(str(path))  # type: ignore[attr-defined]
    if isinstance(loaded, datasets.DatasetDict):  # type: ignore[attr-defined]
        if split not in loaded:
            raise InputError(
                f"no split {split!r}; the dataset has {sorted(loaded)}", file=str(path)
            )
        loaded = loaded[split]
    for index, data in enumerate(loaded, start=1):
        yield Row(dict(data), str(path), index)


def read_json_file(path: Path) -> Iterator[Row]:
    """A JSON file holding a list of objects (or one object, for one-problem-per-file layouts)."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON ({exc.msg})", file=str(path), line=exc.lineno) from exc
    items = value if isinstance(value, list) else [value]
    for index, data in enumerate(items, start=1):
        if not isinstance(data, dict):
            raise InputError(
                f"expected an object, got {type(data).__name__}", file=str(path), line=index
            )
        yield Row(data, str(path), index)


def read_jsonl_file(path: Path) -> Iterator[Row]:
    """JSON Lines; a line that does not parse is an error that names it."""
    bad: list = []
    for index, data in enumerate(read_jsonl(path, bad=bad), start=1):
        yield Row(data, str(path), index)
    if bad:
        raise InputError(bad[0].reason, file=bad[0].path, line=bad[0].line)


def read_csv_file(path: Path, columns: list[str] | None = None) -> Iterator[Row]:
    """CSV with a header row, or without one when `columns` names the columns (MMLU)."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = columns or next(reader, None)
        if header is None:
            return
        first_line = 1 if columns else 2
        for number, values in enumerate(reader, start=first_line):
            if not values:
                continue
            if len(values) != len(header):
                raise InputError(
                    f"expected {len(header)} columns ({', '.join(header)}), got {len(values)}",
                    file=str(path),
                    line=number,
                )
            yield Row(dict(zip(header, values, strict=True)), str(path), number)


def read_parquet_file(path: Path) -> Iterator[Row]:
    import pyarrow.parquet as pq

    for index, data in enumerate(pq.read_table(path).to_pylist(), start=1):
        yield Row(data, str(path), index)


def read_rows(path: Path, split: str = "test") -> Iterator[Row]:
    """Rows of one file, or of a saved Hugging Face dataset directory."""
    if is_hf_saved_dataset(path):
        yield from read_hf_saved(path, split)
    elif path.suffix == ".jsonl":
        yield from read_jsonl_file(path)
    elif path.suffix == ".json":
        yield from read_json_file(path)
    elif path.suffix == ".csv":
        yield from read_csv_file(path)
    elif path.suffix == ".parquet":
        yield from read_parquet_file(path)
    else:
        raise InputError(
            "unsupported file type (expected .jsonl, .json, .csv or .parquet)", file=str(path)
        )


def files_under(path: Path, pattern: str) -> list[Path]:
    """The files a loader reads: `path` itself, or the files matching `pattern` below it, sorted."""
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob(pattern) if p.is_file())
