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
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import groupby, tee
from operator import itemgetter
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
    """Union-find over item ids in SQLite that remembers the best similarity linking each item.

    Only items joined to another have a row (most items never are): the rest are clusters of
    their own.
    """

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        db.execute(
            "CREATE TABLE joined (item INTEGER PRIMARY KEY, parent INTEGER, similarity REAL)"
        )

    def _parent(self, i: int) -> int:
        row = self.db.execute("SELECT parent FROM joined WHERE item = ?", (i,)).fetchone()
        return i if row is None else int(row[0])

    def find(self, i: int) -> int:
        path = []
        while (parent := self._parent(i)) != i:
            path.append(i)
            i = parent
        # path compression: every item walked through now points at the root
        self.db.executemany("UPDATE joined SET parent = ? WHERE item = ?", ((i, k) for k in path))
        return i

    def join(self, i: int, j: int, similarity: float) -> None:
        ri, rj = self.find(i), self.find(j)
        self.db.executemany(
            "INSERT INTO joined VALUES (?, ?, ?) ON CONFLICT (item) DO UPDATE"
            " SET similarity = MAX(similarity, excluded.similarity)",
            ((k, k, similarity) for k in (i, j)),
        )
        if ri != rj:
            self.db.execute(
                "UPDATE joined SET parent = ? WHERE item = ?", (min(ri, rj), max(ri, rj))
            )

    def clusters(self) -> Iterator[list[tuple[int, float]]]:
        """Each cluster of more than one item, its (item, similarity) in item order; the first
        item is the root."""
        last = -1
        while rows := self.db.execute(
            "SELECT item FROM joined WHERE item > ? ORDER BY item LIMIT 1000", (last,)
        ).fetchall():
            for (item,) in rows:
                self.find(item)  # every item now points at its root
            last = rows[-1][0]
        ordered = self.db.execute(
            "SELECT parent, item, similarity FROM joined ORDER BY parent, item"
        )
        for _, members in groupby(ordered, key=itemgetter(0)):
            yield [(item, similarity) for _, item, similarity in members]


class BandIndex:
    """datasketch's `MinHashLSH` band index, kept in SQLite instead of Python dicts.

    The same bands (`_optimal_param` for the threshold and permutations, equal weights) and the
    same bucket keys (a band's hash values, byte-swapped, as bytes), so a query finds the same
    items. Rows: one per (band, item) in `bucket`, indexed by (band, key), and one signature
    per item, in `db` (by default a private on-disk database, `connect("")`, removed on close).
    """

    def __init__(
        self, threshold: float, num_perm: int, db: sqlite3.Connection | None = None
    ) -> None:
        from datasketch.lsh import _optimal_param

        if num_perm < 2:
            raise ValueError("Too few permutation functions")  # as MinHashLSH says
        bands, rows = _optimal_param(threshold, num_perm, 0.5, 0.5)
        if bands < 2:
            raise ValueError("The number of bands are too small (b < 2)")
        self.ranges = [(b * rows, (b + 1) * rows) for b in range(bands)]
        self.db = sqlite3.connect("") if db is None else db
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


def duplicates(
    items: Iterable[tuple[int, str, str | None]],
    rank: Callable[[int], Any],
    near: NearDupConfig | None = NearDupConfig(),
) -> Iterator[Duplicate]:
    """Exact duplicates first, then near duplicates among the survivors; best-ranked kept.

    `items` are (id, text, scope) with increasing ids (a record's position or seq), read once;
    only items of one scope are compared (None: all with all). `rank(id)` orders a cluster's
    members, the highest kept; it is asked only about items that have a duplicate. Texts,
    clusters and the band index wait in a private SQLite file (`connect("")`), one cluster in
    memory at a time. Duplicates come out in id order (exact ones alone: a cluster at a time).
    """
    db = sqlite3.connect("")
    try:
        db.executescript(
            "CREATE TABLE item (item INTEGER PRIMARY KEY, scope TEXT, exact TEXT, text TEXT,"
            " active INTEGER DEFAULT 1);"
            "CREATE TABLE duplicate (item INTEGER PRIMARY KEY, kept INTEGER, kind TEXT,"
            " similarity REAL, cluster INTEGER);"
        )
        db.executemany(
            "INSERT INTO item (item, scope, exact, text) VALUES (?, ?, ?, ?)",
            ((i, scope or "", _exact_key(text), text) for i, text, scope in items),
        )
        db.execute("CREATE INDEX item_exact ON item (scope, exact, item)")
        _exact_duplicates(db, rank)
        if near is not None:
            for members in _near_clusters(db, near).clusters():
                _keep_best(db, [(i, round(s, 4)) for i, s in members], "near", rank)
        # Exact duplicates alone come a cluster at a time, as they always have (the order of
        # dropped.jsonl); with near duplicates, all of them in id order.
        order = "item" if near is not None else "cluster, item"
        rows = db.execute(f"SELECT item, kept, kind, similarity FROM duplicate ORDER BY {order}")
        for item, kept, kind, similarity in rows:
            yield Duplicate(item, kept, kind, similarity)
    finally:
        db.close()


def _keep_best(
    db: sqlite3.Connection, members: list[tuple[int, float]], kind: str, rank: Callable[[int], Any]
) -> None:
    """One cluster: every member but the best-ranked is a duplicate of it."""
    best = max((item for item, _ in members), key=rank)
    first = min(item for item, _ in members)
    db.executemany(
        "INSERT INTO duplicate VALUES (?, ?, ?, ?, ?)",
        ((item, best, kind, similarity, first) for item, similarity in members if item != best),
    )


def _exact_duplicates(db: sqlite3.Connection, rank: Callable[[int], Any]) -> None:
    """Items of one scope with the same normalised text; the duplicates leave the near pass."""
    groups = db.execute(
        "SELECT i.scope, i.exact, i.item FROM item i JOIN (SELECT scope, exact FROM item"
        " GROUP BY scope, exact HAVING COUNT(*) > 1) USING (scope, exact)"
        " ORDER BY i.scope, i.exact, i.item"
    )  # only the items that have an exact duplicate, a cluster at a time
    for _, members in groupby(groups, key=itemgetter(0, 1)):
        _keep_best(db, [(item, 1.0) for _, _, item in members], "exact", rank)
    db.execute("UPDATE item SET active = 0 WHERE item IN (SELECT item FROM duplicate)")


def _near_clusters(db: sqlite3.Connection, config: NearDupConfig) -> _Clusters:
    """MinHash LSH over the active items of `db`'s `item` table. LSH candidates are confirmed
    with the estimated Jaccard similarity, so band collisions below the threshold never merge
    clusters."""
    from datasketch import MinHash

    found = _Clusters(db)
    lsh = BandIndex(config.threshold, config.num_perm, db)
    rows, texts = tee(db.execute("SELECT item, scope, text FROM item WHERE active ORDER BY item"))
    shingles = (_shingles(text, config.shingle) for _, _, text in texts)
    # crc32 is a C builtin: hashing shingles costs a fraction of sha1's time, and datasketch's
    # affine32 scheme mixes the 32-bit values (fmix) before permuting them.
    for (i, scope, _), minhash in zip(
        rows,
        MinHash.generator(shingles, num_perm=config.num_perm, hashfunc=zlib.crc32),
        strict=True,
    ):
        if minhash.is_empty():
            continue
        for j, signature in lsh.query(minhash.hashvalues):
            if scope and _scope(db, j) != scope:
                continue
            # MinHash.jaccard: the share of equal hash values
            similarity = float(np.count_nonzero(minhash.hashvalues == signature)) / len(signature)
            if similarity >= config.threshold:
                found.join(i, j, similarity)
        lsh.insert(i, minhash.hashvalues)
    return found


def _scope(db: sqlite3.Connection, item: int) -> str:
    (scope,) = db.execute("SELECT scope FROM item WHERE item = ?", (item,)).fetchone()
    return str(scope)


def near_clusters(
    texts: Sequence[str], config: NearDupConfig = NearDupConfig()
) -> tuple[list[int], dict[int, float]]:
    """The near pass of `duplicates` on a list: a cluster label per item (the smallest index
    in its cluster) and the best similarity that joined each joined item."""
    db = sqlite3.connect("")
    try:
        db.execute("CREATE TABLE item (item INTEGER PRIMARY KEY, scope TEXT, text TEXT, active)")
        db.executemany("INSERT INTO item VALUES (?, '', ?, 1)", enumerate(texts))
        labels, similarity = list(range(len(texts))), {}
        for members in _near_clusters(db, config).clusters():
            for item, best in members:
                labels[item], similarity[item] = members[0][0], best
        return labels, similarity
    finally:
        db.close()


def find_duplicates(
    texts: Sequence[str],
    rank: Callable[[int], Any],
    near: NearDupConfig | None = NearDupConfig(),
    scope: Sequence[Any] | None = None,
) -> list[Duplicate]:
    """`duplicates` of a list of texts, items by index, with a `scope` per item or none."""
    items = ((i, text, scope[i] if scope else None) for i, text in enumerate(texts))
    return list(duplicates(items, rank, near))
