"""Exact and MinHash near-duplicate clustering, and n-gram decontamination, on plain texts."""

from __future__ import annotations

from pathlib import Path

import pytest

from sciinstruct.curate.decontam import Benchmark, NgramIndex, benchmark_texts
from sciinstruct.curate.dedup import (
    NearDupConfig,
    exact_clusters,
    find_duplicates,
    keep_best,
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


def test_exact_clusters_respect_scope() -> None:
    texts = ["a b", "A  B", "c", "a b"]
    assert exact_clusters(texts) == [0, 0, 2, 0]
    assert exact_clusters(texts, scope=["x", "x", "x", "y"]) == [0, 0, 2, 3]


def test_keep_best_keeps_the_highest_rank() -> None:
    assert keep_best([0, 0, 2, 0], rank=lambda i: [1, 5, 0, 3][i]) == {0: 1, 3: 1}


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
