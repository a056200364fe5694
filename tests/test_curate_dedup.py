"""Exact and MinHash near-duplicate clustering, and n-gram decontamination, on plain texts."""

from __future__ import annotations

from pathlib import Path

import pytest

from sciinstruct.curate.decontam import Benchmark, NgramIndex, benchmark_texts
from sciinstruct.curate.dedup import (
    BandIndex,
    NearDupConfig,
    find_duplicates,
    near_clusters,
    normalize,
)
from sciinstruct.errors import InputError
from sciinstruct.jsonl import write_jsonl

TEXT = (
    "The kinetic energy of a body of mass m moving at speed v is one half m v squared, "
    "so doubling the speed multiplies the kinetic energy by four."
)


def test_normalize_folds_case_width_and_space() -> None:
    assert normalize("  Ｆｏｏ\tBAR \n baz ") == "foo bar baz"


def test_exact_duplicates_respect_scope() -> None:
    texts = ["a b", "A  B", "c", "a b"]
    found = find_duplicates(texts, rank=lambda i: -i, near=None)
    assert [(d.index, d.kept, d.kind, d.similarity) for d in found] == [
        (1, 0, "exact", 1.0),
        (3, 0, "exact", 1.0),
    ]
    scoped = find_duplicates(texts, rank=lambda i: -i, near=None, scope=["x", "x", "x", "y"])
    assert [(d.index, d.kept) for d in scoped] == [(1, 0)]
    # Exact duplicates alone come a cluster at a time (dropped.jsonl's order since the start).
    crossed = find_duplicates(["a", "b", "b", "a"], rank=lambda i: -i, near=None)
    assert [(d.index, d.kept) for d in crossed] == [(3, 0), (2, 1)]


def test_the_highest_rank_is_kept() -> None:
    found = find_duplicates(["a b", "a b", "c", "a b"], rank=lambda i: [1, 5, 0, 3][i], near=None)
    assert {d.index: d.kept for d in found} == {0: 1, 3: 1}


def test_near_duplicates_found_and_distinct_texts_kept() -> None:
    texts = [
        TEXT,
        TEXT.replace("multiplies", "will multiply"),  # one word changed
        "Photosynthesis converts light energy into chemical energy stored in glucose molecules.",
        TEXT.upper(),  # exact after normalisation
    ]
    dups = find_duplicates(texts, rank=lambda i: -i, near=NearDupConfig(threshold=0.7))
    assert [(d.index, d.kept, d.kind) for d in dups] == [(1, 0, "near"), (3, 0, "exact")]
    assert 0.7 <= dups[0].similarity < 1.0
    assert find_duplicates(texts, rank=lambda i: -i, near=None) == [dups[1]]


def test_near_dup_config_is_checked() -> None:
    with pytest.raises(ValueError, match="threshold"):
        NearDupConfig(threshold=1.5)


def test_ngram_index_hits_and_misses() -> None:
    bench = Benchmark("b", [TEXT, "too short to index"], ["k1", "k2"])
    index = NgramIndex([bench], n=13)
    assert index.short_items == {"b": 1}
    assert len(index) == len(normalize(TEXT).replace(",", " ,").replace(".", " .").split()) - 12
    hit = index.check(["Intro words first. " + TEXT[:120] + " and then more"])
    assert hit is not None and hit.items == {"b": ["k1"]} and hit.ngrams >= 1
    assert index.check(["Photosynthesis converts light energy into chemical energy."]) is None
    assert NgramIndex([bench], n=8).check(["one half m v squared, so doubling the"]) is not None


def test_benchmark_texts_reads_text_fields_and_reports_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "mmlu.jsonl"
    write_jsonl(path, [{"id": "x1", "problem": "p"}, {"prompt": "q"}])
    bench = benchmark_texts(path)
    assert (bench.name, bench.texts, bench.ids) == ("mmlu", ["p", "q"], ["x1", "2"])
    shipped = benchmark_texts("eval_set")
    assert shipped.name == "eval_set" and len(shipped.texts) == len(shipped.ids) > 10
    # a registered benchmark is read by the registry's loader, as `eval` reads it
    registered = benchmark_texts("sciinstruct_eval")
    assert registered.name == "sciinstruct_eval" and registered.texts == shipped.texts
    write_jsonl(path, [{"answer": "3"}])
    with pytest.raises(InputError, match=r"mmlu\.jsonl:1: no text field"):
        benchmark_texts(path)
    # A corrupt benchmark line is refused, not skipped: skipping it would let its
    # contaminated copies through decontamination.
    path.write_text('{"problem": "p"}\n{"problem": "cut\n{"problem": "r"}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"mmlu\.jsonl:2: invalid JSON"):
        benchmark_texts(path)


def _variants() -> list[str]:
    """Near copies of TEXT (a word changed here and there) between unrelated texts."""
    words = TEXT.split()
    out = []
    for i in range(12):
        copy = list(words)
        copy[i % len(words)] = f"word{i}"
        out.append(" ".join(copy))
        out.append(f"unrelated text number {i} about " + " ".join(f"w{i}x{j}" for j in range(20)))
    return out


def test_band_index_is_in_sqlite_one_row_per_band_and_item() -> None:
    from datasketch import MinHash

    index = BandIndex(0.8, 128)
    assert len(index.ranges) == 9  # datasketch's optimum for 0.8 and 128: 9 bands of 13
    signatures = []
    for i, text in enumerate(["a b c d e", "a b c d f", "x y z w v"]):
        minhash = MinHash(num_perm=128)
        minhash.update_batch([t.encode() for t in text.split()])
        index.insert(i, minhash.hashvalues)
        signatures.append(minhash.hashvalues)
    assert index.count("bucket") == 27
    assert index.count("signature") == 3
    found = index.query(signatures[0])
    assert 0 in {item for item, _ in found}
    assert 2 not in {item for item, _ in found}
    assert all((sig == signatures[item]).all() for item, sig in found)


def test_near_clusters_match_datasketchs_own_lsh() -> None:
    """The SQLite index finds what MinHashLSH finds: the same labels and similarities."""
    import zlib

    from datasketch import MinHash, MinHashLSH

    from sciinstruct.curate.dedup import _shingles

    texts = _variants()
    config = NearDupConfig(0.5, 64)
    labels, similarity = near_clusters(texts, config)
    lsh = MinHashLSH(threshold=0.5, num_perm=64)
    parent = list(range(len(texts)))
    best: dict[int, float] = {}
    signatures = {}
    for i, text in enumerate(texts):
        m = MinHash(num_perm=64, hashfunc=zlib.crc32)
        m.update_batch(_shingles(text, config.shingle))
        for j in lsh.query(m):
            sim = m.jaccard(signatures[j])
            if sim >= 0.5:
                parent[i] = min(parent[i], parent[j])
                best[i], best[j] = max(sim, best.get(i, 0)), max(sim, best.get(j, 0))
        lsh.insert(i, m)
        signatures[i] = m
    assert labels[0] == 0 and labels[2] == 0  # the near copies cluster
    assert labels[1] == 1  # an unrelated text stays alone
    assert similarity == best
    assert [labels[i] for i in range(0, len(texts), 2)] == [0] * 12
