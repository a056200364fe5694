"""Benchmark: MinHash near-dup detection and 13-gram decontamination at 100,000 samples.

Synthetic solutions (60-90 words from a 5,000-word vocabulary) with known duplicates planted:
5% exact copies (case and spacing changed) and 10% near copies (one word replaced: word-3-gram Jaccard 0.90-0.94), and 1% of the
samples quoting a benchmark item. Reports time, throughput and recall of the planted cases; side
by side on a 5,000-sample slice, datasketch's default sha1 shingle hash against the crc32 we use.

    .venv/bin/python bench/bench_dedup.py [--quick]
"""

from __future__ import annotations

import argparse
import random
import time
import zlib

from datasketch import MinHash

from sciinstruct.curate.decontam import Benchmark, NgramIndex
from sciinstruct.curate.dedup import NearDupConfig, _shingles, find_duplicates


def corpus(n: int, rng: random.Random) -> tuple[list[str], set[int], set[int]]:
    vocab = [f"w{k}" for k in range(5000)]
    texts: list[str] = []
    exact, near = set(), set()
    for i in range(n):
        roll = rng.random()
        if i > 100 and roll < 0.05:
            texts.append(texts[rng.randrange(i)].upper().replace(" ", "  "))
            exact.add(i)
        elif i > 100 and roll < 0.15:
            words = texts[rng.randrange(i)].split()
            words[rng.randrange(len(words))] = rng.choice(vocab)
            texts.append(" ".join(words))
            near.add(i)
        else:
            texts.append(" ".join(rng.choices(vocab, k=rng.randint(60, 90))))
    return texts, exact, near


def bench_dedup(texts: list[str], exact: set[int], near: set[int]) -> dict[str, float]:
    start = time.perf_counter()
    dups = find_duplicates(texts, rank=lambda i: -i, near=NearDupConfig(threshold=0.8))
    seconds = time.perf_counter() - start
    found = {d.index for d in dups}
    return {
        "seconds": seconds,
        "per_s": len(texts) / seconds,
        "exact_recall": len(found & exact) / max(1, len(exact)),
        "near_recall": len(found & near) / max(1, len(near)),
        "false_positives": len(found - exact - near),
    }


def bench_hashfunc(texts: list[str]) -> dict[str, float]:
    """Shingle hashing + signatures only: datasketch's default sha1 vs zlib.crc32."""
    shingles = [_shingles(t, 3) for t in texts]
    out = {}
    for name, func in (("sha1", None), ("crc32", zlib.crc32)):
        start = time.perf_counter()
        for _ in MinHash.generator(shingles, num_perm=128, hashfunc=func):
            pass
        out[name] = time.perf_counter() - start
    return out


def bench_decontam(texts: list[str], n_bench: int, rng: random.Random) -> dict[str, float]:
    items = [
        " ".join(rng.choices([f"b{k}" for k in range(20000)], k=rng.randint(20, 60)))
        for _ in range(n_bench)
    ]
    leaked = set(rng.sample(range(len(texts)), len(texts) // 100))
    texts = [
        t + " " + items[rng.randrange(n_bench)] if i in leaked else t for i, t in enumerate(texts)
    ]
    start = time.perf_counter()
    index = NgramIndex([Benchmark("bench", items, [str(i) for i in range(n_bench)])], n=13)
    built = time.perf_counter() - start
    found = {i for i, t in enumerate(texts) if index.check([t])}
    seconds = time.perf_counter() - start
    return {
        "index_s": built,
        "seconds": seconds,
        "per_s": len(texts) / seconds,
        "recall": len(found & leaked) / len(leaked),
        "false_positives": len(found - leaked),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="10,000 samples, 1,000 benchmark items"
    )
    args = parser.parse_args()
    n, n_bench = (10_000, 1_000) if args.quick else (100_000, 10_000)
    rng = random.Random(0)
    texts, exact, near = corpus(n, rng)
    print(f"corpus: {n} samples, {len(exact)} exact and {len(near)} near copies planted")
    d = bench_dedup(texts, exact, near)
    print(
        f"minhash dedup: {d['seconds']:.1f} s ({d['per_s']:.0f}/s), exact recall {d['exact_recall']:.3f}, "
        f"near recall {d['near_recall']:.3f}, false positives {d['false_positives']}"
    )
    h = bench_hashfunc(texts[:5000])
    print(
        f"signatures of 5,000 samples: sha1 {h['sha1']:.2f} s, crc32 {h['crc32']:.2f} s "
        f"({h['sha1'] / h['crc32']:.2f}x)"
    )
    c = bench_decontam(texts, n_bench, rng)
    print(
        f"decontamination vs {n_bench} items: {c['seconds']:.1f} s (index {c['index_s']:.1f} s, "
        f"{c['per_s']:.0f} samples/s), recall {c['recall']:.3f}, false positives {c['false_positives']}"
    )


if __name__ == "__main__":
    main()
