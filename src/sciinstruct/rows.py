"""The one reader of user data files: JSONL, JSON, CSV/TSV, Parquet or a saved Hugging Face dataset.

Every row comes with the file and the line (or row number) it came from. `scan_rows` yields the
rows that cannot be read too, each with the reason (ingest writes them to `rejected.jsonl`);
`read_rows` refuses the first one with an `InputError` naming file and line (evaluation data,
training files). Nothing is skipped silently either way.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sciinstruct.errors import InputError, MissingDependencyError
from sciinstruct.jsonl import scan_jsonl

FORMATS = ("auto", "jsonl", "json", "csv", "parquet", "hf")


@dataclass(frozen=True)
class Row:
    """One input row and where it is: `line` is the 1-based line (JSONL, CSV) or row number.

    `data` is None for a row that could not be read; `bad` then says why and `raw` holds what
    was there (for the rejection log)."""

    file: str
    line: int
    data: dict[str, Any] | None
    bad: str | None = None
    raw: str = ""

    def error(self, message: str, field: str | None = None) -> InputError:
        """An InputError located at this row (and field)."""
        return InputError(message, file=self.file, line=self.line, field=field)


def is_hf_saved_dataset(path: Path) -> bool:
    """True for a directory written by `datasets.Dataset(Dict).save_to_disk`."""
    return path.is_dir() and any(
        (path / name).exists() for name in ("dataset_info.json", "state.json", "dataset_dict.json")
    )


def detect_format(path: Path) -> str:
    """`jsonl`, `json`, `csv`, `parquet` or `hf`, from the suffix or the directory's contents."""
    if path.is_dir():
        if is_hf_saved_dataset(path):
            return "hf"
        raise InputError(
            "a directory, but not a Hugging Face dataset saved with save_to_disk "
            "(no dataset_dict.json, dataset_info.json or state.json)",
            file=str(path),
        )
    suffix = path.suffix.lower()
    formats = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv"}
    formats |= {".tsv": "csv", ".parquet": "parquet", ".pq": "parquet"}
    if suffix in formats:
        return formats[suffix]
    raise InputError(
        f"unknown file type '{suffix}': expected .jsonl, .json, .csv, .parquet or a dataset "
        "directory",
        file=str(path),
    )


def scan_rows(
    path: str | Path,
    fmt: str = "auto",
    split: str | None = None,
    columns: list[str] | None = None,
) -> Iterator[Row]:
    """Every row of `path`, unreadable ones included (with `bad` set).

    `split` picks a split of a saved DatasetDict (None: its only one); `columns` names the
    columns of a CSV file without a header row (MMLU). A file that cannot be opened as its
    format at all (corrupt Parquet, a JSON file that is not JSON) is an InputError.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("no such file or directory", file=str(path))
    fmt = detect_format(path) if fmt == "auto" else fmt
    if fmt not in FORMATS:
        raise InputError(f"unknown format '{fmt}': expected one of {', '.join(FORMATS)}")
    if fmt in ("json", "jsonl"):
        return _json_rows(path, fmt)
    if fmt == "csv":
        return _csv_rows(path, columns)
    if fmt == "parquet":
        return _parquet_rows(path)
    return _hf_rows(path, split)


def read_rows(
    path: str | Path,
    fmt: str = "auto",
    split: str | None = None,
    columns: list[str] | None = None,
) -> Iterator[Row]:
    """The rows of `path`; the first unreadable row is an InputError with its file and line."""
    for row in scan_rows(path, fmt, split, columns):
        if row.data is None:
            raise row.error(row.bad or "unreadable row")
        yield row


def files_under(path: Path, pattern: str) -> list[Path]:
    """The files a loader reads: `path` itself, or the files matching `pattern` below it, sorted."""
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob(pattern) if p.is_file())


def _json_rows(path: Path, fmt: str) -> Iterator[Row]:
    # A .json file is one document (an array of objects, or one object for one-problem-per-file
    # layouts); JSON Lines named .json, and arrays named .jsonl, occur too: sniff before parsing.
    with open(path, "rb") as fh:
        head = fh.read(64).lstrip()
    whole = head.startswith(b"[")
    if fmt == "json" and not whole:
        try:
            whole = isinstance(json.loads(path.read_bytes()), dict)
        except (json.JSONDecodeError, UnicodeDecodeError):
            whole = False  # JSON Lines in a .json file
    if not whole:
        for number, value, why, raw in scan_jsonl(path):
            yield Row(str(path), number, value, why, raw)
        return
    try:
        value = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 (byte at offset {exc.start})", file=str(path)) from exc
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON ({exc.msg})", file=str(path), line=exc.lineno) from exc
    for number, item in enumerate(value if isinstance(value, list) else [value], start=1):
        raw = json.dumps(item, ensure_ascii=False, default=str)
        if isinstance(item, dict):
            yield Row(str(path), number, item, raw=raw)
        else:
            yield Row(
                str(path), number, None, f"expected a JSON object, got {type(item).__name__}", raw
            )


def _csv_rows(path: Path, columns: list[str] | None) -> Iterator[Row]:
    # surrogateescape: one bad byte refuses its row, not the whole file; utf-8-sig drops a BOM.
    text = path.read_bytes().decode("utf-8", "surrogateescape").removeprefix("\ufeff")
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    # csv's default cell limit (128 KiB) would stop the whole file at one huge cell: read it,
    # and let validation refuse that row alone (ingest.MAX_FIELD_CHARS).
    csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = columns or next(reader, None)
    if header is None:
        return
    line = 1 if columns else 2  # the line the next record starts on
    for values in reader:
        number, line = line, reader.line_num + 1
        if not values:
            continue
        raw = delimiter.join(values)
        if len(values) > len(header):
            bad = f"more cells than the {len(header)} header columns ({', '.join(header)})"
            yield Row(str(path), number, None, bad, raw)
            continue
        if len(values) < len(header) and columns:
            bad = f"expected {len(header)} columns ({', '.join(header)}), got {len(values)}"
            yield Row(str(path), number, None, bad, raw)
            continue
        broken = [h for h, v in zip(header, values, strict=False) if _has_surrogates(v)]
        if broken:
            bad = f"not UTF-8 in column '{broken[0]}'"
            yield Row(str(path), number, None, bad, raw.encode("utf-8", "replace").decode())
            continue
        yield Row(str(path), number, dict(zip(header, values, strict=False)), raw=raw)


def _has_surrogates(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def _parquet_rows(path: Path) -> Iterator[Row]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise InputError(f"cannot read Parquet: {exc}", file=str(path)) from exc
    for number, data in enumerate(table.to_pylist(), start=1):
        yield Row(str(path), number, data, raw=json.dumps(data, default=str, ensure_ascii=False))


def _hf_rows(path: Path, split: str | None) -> Iterator[Row]:
    try:
        import datasets
    except ImportError as exc:
        raise MissingDependencyError("datasets", 'pip install "sciinstruct[train]"') from exc
    loaded = datasets.load_from_disk(str(path))
    if isinstance(loaded, datasets.DatasetDict):
        if split is None:
            if len(loaded) != 1:
                raise InputError(
                    f"the dataset has splits {sorted(loaded)}: choose one with --split",
                    file=str(path),
                )
            split = next(iter(loaded))
        if split not in loaded:
            raise InputError(
                f"no split {split!r}; the dataset has {sorted(loaded)}", file=str(path)
            )
        loaded = loaded[split]
    for number, data in enumerate(loaded, start=1):
        raw = json.dumps(data, default=str, ensure_ascii=False)
        yield Row(str(path), number, dict(data), raw=raw)
