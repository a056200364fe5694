"""Write export rows as JSONL and Parquet, both loadable with `datasets.load_dataset`.

Rows are streamed: the JSONL is written one row at a time, and the Parquet file is built from
the JSONL in chunks of `PARQUET_ROWS`, so no format's rows are ever held whole.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sciinstruct.export.card import FormatStats
from sciinstruct.jsonl import read_jsonl, write_jsonl

if TYPE_CHECKING:
    import pyarrow as pa

# Rows per Parquet row group (and per chunk held while writing): a few tens of MB of rows.
# A file of at most this many rows is one table, written exactly as `pq.write_table` writes it.
PARQUET_ROWS = 10_000


def _tables(path: Path, size: int, schema: pa.Schema | None = None) -> Iterator[pa.Table]:
    """The rows of `path` as Arrow tables of `size` rows (with `schema`, else their own).

    A chunk's rows as Python objects are gone before the next chunk is read: only Arrow's
    compact copy lives on while the caller holds it."""
    import pyarrow as pa

    rows = read_jsonl(path)
    while chunk := list(islice(rows, size)):
        table = pa.Table.from_pylist(chunk, schema=schema)
        del chunk
        yield table


def write_parquet(path: Path, jsonl: Path, chunk_rows: int = PARQUET_ROWS) -> int:
    """One Parquet file holding the rows of `jsonl`; returns the row groups written.

    Column types come from the rows (lists of messages become list<struct>). With more than one
    chunk, a first pass unifies the chunks' schemas (a column null in one chunk and text in
    another is text), so every row group has the file's schema.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    # Arrow's allocator (mimalloc) keeps the pages of freed chunks unless told to give them
    # back: without `release_unused`, peak memory grows with the number of chunks.
    pool = pa.default_memory_pool()
    schema, groups = None, 0
    for table in _tables(jsonl, chunk_rows):
        schema = table.schema if schema is None else pa.unify_schemas([schema, table.schema])
        groups += 1
        del table
        pool.release_unused()
    tmp = path.with_name(path.name + ".tmp")
    with pq.ParquetWriter(tmp, schema) as writer:
        for table in _tables(jsonl, chunk_rows, schema):
            writer.write_table(table)
            del table
            pool.release_unused()
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
