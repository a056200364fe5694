"""Write export rows as JSONL and Parquet, both loadable with `datasets.load_dataset`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sciinstruct.jsonl import write_jsonl


def write_parquet(path: Path, rows: list[dict[str, Any]]) -> None:
    """One Parquet file; column types come from the rows (lists of messages become list<struct>)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(pa.Table.from_pylist(rows), tmp)
    tmp.replace(path)


def write_format(
    directory: Path, name: str, rows: list[dict[str, Any]], parquet: bool
) -> list[str]:
    """`name.jsonl` (and `name.parquet`) under `directory`; returns the file names written."""
    directory.mkdir(parents=True, exist_ok=True)
    write_jsonl(directory / f"{name}.jsonl", rows)
    files = [f"{name}.jsonl"]
    parquet_path = directory / f"{name}.parquet"
    if parquet and rows:
        write_parquet(parquet_path, rows)
        files.append(parquet_path.name)
    elif parquet_path.exists():
        parquet_path.unlink()  # a stale file from an earlier export would contradict the JSONL
    return files
