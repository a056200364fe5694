"""Exact and near-duplicate detection: normalised-text hashes and MinHash LSH (`datasketch`).

Both passes cluster items and keep the best-ranked member of each cluster; the caller decides what
"best" means (for samples: classifier score, then critique, then stage, see `quality_key`).
A `scope` per item (e.g. the question id) limits clusters to items of the same scope, so that two
questions may share a short solution while one question keeps only distinct solutions.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import unicodedata
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

_WORD = re.compile(r"\w+|[^\w\s]", re.UNICODE)
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class NearDupConfig:
    """MinHash LSH settings.

    threshold: estimated Jaccard similarity of word shingles at or above which two texts are
        near-duplicates; 0.8 catches re-phrasings and formatting changes but not new questions
        that share a template.
    num_perm: permutations per signature; 128 keeps the Jaccard estimate within about +-0.09
        (1/sqrt(128)) and the index small.
    shingle: words per shingle; 3-grams suit short questions and solutions alike.
    """

    threshold: float = 0.8
    num_perm: int = 128
    shingle: int = 3

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"near-dup threshold must be in (0, 1], got {self.threshold}")
        if self.num_perm < 16:
            raise ValueError(f"num_perm must be at least 16, got {self.num_perm}")
        if self.shingle < 1:
            raise ValueError(f"shingle must be at least 1 word, got {self.shingle}")


@dataclass(frozen=True)
class Duplicate:
    """Item `index` duplicates the kept item `kept`; `kind` is "exact" or "near"."""

    index: int
    kept: int
    kind: str
    similarity: float


def normalize(text: str) -> str:
    """Case, Unicode form and whitespace folded: what two copies of one text still share."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def tokens(text: str) -> list[str]:
    """Words and single punctuation marks of the normalised text (math symbols stay tokens)."""
    return _WORD.findall(normalize(text))


def _exact_key(text: str) -> str:
    return hashlib.sha1(normalize(text).encode("utf-8")).hexdigest()


def _shingles(text: str, size: int) -> list[bytes]:
    words = tokens(text)
    if len(words) <= size:
        return [" ".join(words).encode("utf-8")] if words else []
    return [" ".join(words[i : i + size]).encode("utf-8") for i in range(len(words) - size + 1)]


class _Clusters:
    """Union-find over item indices that remembers the best similarity linking each item."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))
        self.similarity: dict[int, float] = {}

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]  # path halving
            i = self.parent[i]
        return i

    def join(self, i: int, j: int, similarity: float) -> None:
        ri, rj = self.find(i), self.find(j)
        if ri != rj:
            self.parent[max(ri, rj)] = min(ri, rj)
        for k in (i, j):
            self.similarity[k] = max(similarity, self.similarity.get(k, 0.0))

    def labels(self) -> list[int]:
        return [self.find(i) for i in range(len(self.parent))]


def exact_clusters(texts: Sequence[str], scope: Sequence[Any] | None = None) -> list[int]:
    """A cluster label per item: the first index with the same normalised text (and scope)."""
    first: dict[tuple[Any, str], int] = {}
    return [
        first.setdefault((scope[i] if scope else None, _exact_key(text)), i)
        for i, text in enumerate(texts)
    ]


def near_clusters(
    texts: Sequence[str],
    config: NearDupConfig = NearDupConfig(),
    scope: Sequence[Any] | None = None,
    active: Sequence[bool] | None = None,
) -> tuple[list[int], dict[int, float]]:
    """Cluster labels from MinHash LSH, and the best similarity that joined each item.

    LSH candidates are confirmed with the estimated Jaccard similarity so that band collisions
    below the threshold never merge clusters. Items with `active[i]` false are left alone.
    """
    from datasketch import MinHash

    found = _Clusters(len(texts))
    lsh = BandIndex(config.threshold, config.num_perm)
    indices = [i for i in range(len(texts)) if active is None or active[i]]
    shingles = (_shingles(texts[i], config.shingle) for i in indices)
    # crc32 is a C builtin: hashing shingles costs a fraction of sha1's time, and datasketch's
    # affine32 scheme mixes the 32-bit values (fmix) before permuting them.
    for i, minhash in zip(
        indices,
        MinHash.generator(shingles, num_perm=config.num_perm, hashfunc=zlib.crc32),
        strict=True,
    ):
        if minhash.is_empty():
            continue
        for j, signature in lsh.query(minhash.hashvalues):
            if scope is not None and scope[i] != scope[j]:
                continue
            # MinHash.jaccard: the share of equal hash values
            similarity = float(np.count_nonzero(minhash.hashvalues == signature)) / len(signature)
            if similarity >= config.threshold:
                found.join(i, j, similarity)
        lsh.insert(i, minhash.hashvalues)
    lsh.close()
    return found.labels(), found.similarity


class BandIndex:
    """datasketch's `MinHashLSH` band index, kept in SQLite instead of Python dicts.

    The same bands (`_optimal_param` for the threshold and permutations, equal weights) and the
    same bucket keys (a band's hash values, byte-swapped, as bytes), so a query finds the same
    items. Rows: one per (band, item) in `bucket`, indexed by (band, key), and one signature
    per item. `sqlite3.connect("")` is a private on-disk database, removed on close.
    """

    def __init__(self, threshold: float, num_perm: int) -> None:
        from datasketch.lsh import _optimal_param

        if num_perm < 2:
            raise ValueError("Too few permutation functions")  # as MinHashLSH says
        bands, rows = _optimal_param(threshold, num_perm, 0.5, 0.5)
        if bands < 2:
            raise ValueError("The number of bands are too small (b < 2)")
        self.ranges = [(b * rows, (b + 1) * rows) for b in range(bands)]
        self.db = sqlite3.connect("")
        self.db.executescript(
            "CREATE TABLE bucket (band INTEGER, key BLOB, item INTEGER);"
            "CREATE INDEX bucket_key ON bucket (band, key);"
            "CREATE TABLE signature (item INTEGER PRIMARY KEY, hashes BLOB);"
        )
        # One indexed lookup per band (a row-value IN list would scan the table).
        bands_sql = " UNION ".join(
            "SELECT item FROM bucket WHERE band = ? AND key = ?" for _ in self.ranges
        )
        self._query = f"SELECT item, hashes FROM signature WHERE item IN ({bands_sql})"

    def _keys(self, hashvalues: np.ndarray) -> list[tuple[int, bytes]]:
        return [(b, bytes(hashvalues[s:e].byteswap().data)) for b, (s, e) in enumerate(self.ranges)]

    def query(self, hashvalues: np.ndarray) -> list[tuple[int, np.ndarray]]:
        """(item, signature) of every item sharing a bucket with `hashvalues` in some band."""
        keys = [value for pair in self._keys(hashvalues) for value in pair]
        return [
            (item, np.frombuffer(hashes, dtype=hashvalues.dtype))
            for item, hashes in self.db.execute(self._query, keys)
        ]

    def insert(self, item: int, hashvalues: np.ndarray) -> None:
        self.db.executemany(
            "INSERT INTO bucket VALUES (?, ?, ?)",
            [(band, key, item) for band, key in self._keys(hashvalues)],
        )
        self.db.execute("INSERT INTO signature VALUES (?, ?)", (item, hashvalues.tobytes()))

    def count(self, table: str) -> int:
        (n,) = self.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
        return int(n)

    def close(self) -> None:
        self.db.close()


def keep_best(labels: Sequence[int], rank: Callable[[int], Any]) -> dict[int, int]:
    """For clusters of more than one item: each dropped index -> the index kept (highest rank)."""
    clusters: dict[int, list[int]] = {}
    for i, label in enumerate(labels):
        clusters.setdefault(label, []).append(i)
    dropped: dict[int, int] = {}
    for members in clusters.values():
        if len(members) < 2:
            continue
        best = max(members, key=rank)
        dropped.update({i: best for i in members if i != best})
    return dropped


def find_duplicates(
    texts: Sequence[str],
    rank: Callable[[int], Any],
    near: NearDupConfig | None = NearDupConfig(),
    scope: Sequence[Any] | None = None,
) -> list[Duplicate]:
    """Exact duplicates first, then near duplicates among the survivors; best-ranked kept."""
    duplicates = [
        Duplicate(i, kept, "exact", 1.0)
        for i, kept in keep_best(exact_clusters(texts, scope), rank).items()
    ]
    if near is None:
        return duplicates
    gone = {d.index for d in duplicates}
    active = [i not in gone for i in range(len(texts))]
    labels, similarity = near_clusters(texts, near, scope, active)
    for i, kept in keep_best(
        [label if active[i] else -1 - i for i, label in enumerate(labels)], rank
    ).items():
        duplicates.append(Duplicate(i, kept, "near", round(similarity.get(i, 0.0), 4)))
    return sorted(duplicates, key=lambda d: d.index)
