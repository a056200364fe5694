"""Write export rows as JSONL and Parquet, both loadable with `datasets.load_dataset`.

Rows are streamed: the JSONL is written one row at a time, and the Parquet file is built from
the JSONL in chunks of `PARQUET_ROWS`, so no format's rows are ever held whole.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from sciinstruct.export.card import FormatStats
from sciinstruct.jsonl import read_jsonl, write_jsonl

# Rows per Parquet row group (and per chunk held while writing): a few tens of MB of rows.
# A file of at most this many rows is one table, written exactly as `pq.write_table` writes it.
PARQUET_ROWS = 10_000


def _chunks(path: Path, size: int) -> Iterator[list[dict[str, Any]]]:
    rows = read_jsonl(path)
    while chunk := list(islice(rows, size)):
        yield chunk


def write_parquet(path: Path, jsonl: Path, chunk_rows: int = PARQUET_ROWS) -> int:
    """One Parquet file holding the rows of `jsonl`; returns the row groups written.

    Column types come from the rows (lists of messages become list<struct>). With more than one
    chunk, a first pass unifies the chunks' schemas (a column null in one chunk and text in
    another is text), so every row group has the file's schema.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    first = next(_chunks(jsonl, chunk_rows))
    schema = pa.Table.from_pylist(first).schema
    del first
    groups = 0
    for index, chunk in enumerate(_chunks(jsonl, chunk_rows)):
        if index:
            schema = pa.unify_schemas([schema, pa.Table.from_pylist(chunk).schema])
        groups += 1
    tmp = path.with_name(path.name + ".tmp")
    with pq.ParquetWriter(tmp, schema) as writer:
        for chunk in _chunks(jsonl, chunk_rows):
            writer.write_table(pa.Table.from_pylist(chunk, schema=schema))
    tmp.replace(path)
    return groups


def write_format(
    directory: Path,
    name: str,
    rows: Iterable[dict[str, Any]],
    parquet: bool,
    db: sqlite3.Connection | None = None,
) -> tuple[list[str], dict[str, Any]]:
    """`name.jsonl` (and `name.parquet`) under `directory`, the rows read once as they come;
    returns the file names written and the rows' `format_stats` (counted in `db`, a scratch
    SQLite file, when given)."""
    directory.mkdir(parents=True, exist_ok=True)
    stats = FormatStats(db)
    count = write_jsonl(directory / f"{name}.jsonl", stats.counted(rows))
    files = [f"{name}.jsonl"]
    parquet_path = directory / f"{name}.parquet"
    if parquet and count:
        write_parquet(parquet_path, directory / f"{name}.jsonl")
        files.append(parquet_path.name)
    elif parquet_path.exists():
        parquet_path.unlink()  # a stale file from an earlier export would contradict the JSONL
    return files, stats.result()
