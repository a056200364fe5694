"""Decontamination: drop training text that shares a long word n-gram with a benchmark item.

The test is the one GPT-3 and most data papers use: any shared 13-gram of normalised words marks a
hit (13 words is long enough that a match is almost never chance, short enough to survive small
edits). Each benchmark's n-grams are hashed to 64-bit integers in one sorted numpy array, so a
sample costs one vectorised window hash and one binary search, whatever the benchmark size.

A benchmark is named as evaluation names it (`gsm8k`, `math500`, a `.yaml` definition: read by
the one loader, `sciinstruct.benchmarks.load_benchmark`), or given as a file of texts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from sciinstruct.benchmarks import available, get_spec, load_benchmark
from sciinstruct.curate.dedup import tokens
from sciinstruct.errors import InputError
from sciinstruct.rows import read_rows
from sciinstruct.settings import package_path

TEXT_FIELDS = ("question", "problem", "prompt", "input", "text")
# Multiplier of the polynomial n-gram hash: a large odd constant, so the map is a bijection on
# each position modulo 2**64 (golden-ratio constant, as in Fibonacci hashing).
_BASE = np.uint64(0x9E3779B97F4A7C15)


@dataclass(frozen=True)
class Benchmark:
    """A benchmark's texts, with the id of each item (its `id` field or its line number)."""

    name: str
    texts: list[str]
    ids: list[str]


@dataclass
class Hit:
    """A contaminated text: the benchmarks and items it overlaps, and how many n-grams it shares."""

    items: dict[str, list[str]] = field(default_factory=dict)
    ngrams: int = 0


def resolve_benchmark(path: str | Path) -> Path:
    """A file path, or the name of a question file shipped with sciinstruct (`eval_set`,
    `demo_heldout`: data/questions/NAME.jsonl), so the bundled evaluation set is one word away."""
    path = Path(path)
    if path.exists():
        return path
    shipped = package_path(f"data/questions/{path.name}.jsonl")
    if path.suffix == "" and shipped.exists():
        return shipped
    raise InputError(
        "benchmark file not found (nor a shipped question set of that name)", file=str(path)
    )


def benchmark_texts(
    source: str | Path, name: str | None = None, data_root: str | Path | None = None
) -> Benchmark:
    """The texts of a benchmark to decontaminate against.

    `source` is a registered benchmark (`gsm8k`; its data under `data_root`, as for `eval`), a
    benchmark definition (`.yaml`), a shipped question set (`eval_set`), or a JSONL file whose
    rows each carry their text in the first of TEXT_FIELDS they have.
    """
    text = str(source)
    if Path(text).suffix in (".yaml", ".yml") or (not Path(text).exists() and text in available()):
        spec = get_spec(text)
        questions = load_benchmark(spec, data_root)
        return Benchmark(
            name or spec.name, [q.question for q in questions], [q.id for q in questions]
        )
    path = resolve_benchmark(source)
    texts, ids = [], []
    # A line that does not parse is an error, never skipped: a skipped benchmark line is a
    # benchmark question whose contaminated copies would pass.
    for row in read_rows(path, fmt="jsonl"):
        data = row.data or {}
        text = next((data[f] for f in TEXT_FIELDS if isinstance(data.get(f), str)), None)
        if text is None:
            raise row.error(f"no text field: expected one of {', '.join(TEXT_FIELDS)}")
        texts.append(text)
        ids.append(str(data.get("id", row.line)))
    return Benchmark(name or path.stem, texts, ids)


class NgramIndex:
    """The hashed n-grams of a set of benchmarks, and where each came from."""

    def __init__(self, benchmarks: Sequence[Benchmark], n: int) -> None:
        if n < 1:
            raise ValueError(f"n-gram size must be at least 1, got {n}")
        self.n = n
        self.benchmarks = list(benchmarks)
        self._token_hash: dict[str, np.uint64] = {}
        self.short_items: dict[str, int] = {}  # items under n words can never match
        hashes, owners, items = [], [], []
        for b, bench in enumerate(self.benchmarks):
            self.short_items[bench.name] = 0
            for i, text in enumerate(bench.texts):
                grams = np.unique(self._ngrams(text, learn=True))
                if grams.size == 0:
                    self.short_items[bench.name] += 1
                hashes.append(grams)
                owners.append(np.full(grams.size, b, dtype=np.int32))
                items.append(np.full(grams.size, i, dtype=np.int32))
        order = np.argsort(np.concatenate(hashes or [np.empty(0, np.uint64)]), kind="stable")
        self._hashes = np.concatenate(hashes or [np.empty(0, np.uint64)])[order]
        self._owner = np.concatenate(owners or [np.empty(0, np.int32)])[order]
        self._item = np.concatenate(items or [np.empty(0, np.int32)])[order]

    def __len__(self) -> int:
        return int(self._hashes.size)

    def _ngrams(self, text: str, learn: bool = False) -> np.ndarray:
        """uint64 hashes of the text's word n-grams; words no benchmark has map to 0 and their
        n-grams are left out (they cannot match)."""
        words = tokens(text)
        if len(words) < self.n:
            return np.empty(0, dtype=np.uint64)
        if learn:
            for word in words:
                if word not in self._token_hash:
                    digest = hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest()
                    self._token_hash[word] = np.uint64(int.from_bytes(digest, "little") | 1)
        values = np.fromiter(
            (self._token_hash.get(w, 0) for w in words), dtype=np.uint64, count=len(words)
        )
        windows = sliding_window_view(values, self.n)  # shape (len(words) - n + 1, n)
        powers = _BASE ** np.arange(self.n - 1, -1, -1, dtype=np.uint64)
        with np.errstate(over="ignore"):  # wrap-around modulo 2**64 is the point of the hash
            grams = (windows * powers).sum(axis=1, dtype=np.uint64)
        return grams[(windows != 0).all(axis=1)]

    def check(self, texts: Iterable[str]) -> Hit | None:
        """The benchmark items these texts overlap, or None when they are clean."""
        hit = Hit()
        for text in texts:
            grams = self._ngrams(text)
            if grams.size == 0 or self._hashes.size == 0:
                continue
            pos = np.searchsorted(self._hashes, grams)
            pos[pos == self._hashes.size] = 0
            matched = grams[self._hashes[pos] == grams]
            if matched.size == 0:
                continue
            hit.ngrams += int(matched.size)
            lo = np.searchsorted(self._hashes, matched, side="left")
            hi = np.searchsorted(self._hashes, matched, side="right")
            for a, z in zip(lo, hi, strict=True):
                for b, i in zip(self._owner[a:z], self._item[a:z], strict=True):
                    bench = self.benchmarks[b]
                    ids = hit.items.setdefault(bench.name, [])
                    if bench.ids[i] not in ids:
                        ids.append(bench.ids[i])
        return hit if hit.ngrams else None
