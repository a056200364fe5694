"""`curate`: one test per drop reason, on synthetic runs built from records directly."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from sciinstruct.curate import CurateConfig, curate, read_dropped
from sciinstruct.errors import InputError
from sciinstruct.jsonl import read_jsonl, write_jsonl
from sciinstruct.records import Attempt, Question
from sciinstruct.rundir import RunDir

# Distinct filler so that unrelated questions never look alike to MinHash.
WORDS = [
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
    "mike",
]


def question(i: int, text: str | None = None, subject: str = "math") -> Question:
    text = text or f"Problem {i}: compute {WORDS[i % 13]} {i} plus {WORDS[(i * 7) % 13]} {i * 3}."
    return Question(id=f"q{i}", question=text, answer=str(i), subject=subject, source="synthetic")


def attempt(
    qid: str, response: str, stage: str = "cot", correct: bool = True, n: int = 0
) -> Attempt:
    return Attempt(
        id=f"{qid}-{stage}-{n}",
        question_id=qid,
        stage=stage,  # type: ignore[arg-type]
        model="m",
        messages=[{"role": "user", "content": "prompt"}],
        response=response,
        correct=correct,
    )


def solution(i: int, variant: str = "") -> str:
    return f"Step one: take {WORDS[i % 13]} and {i}. Step two: add {i * 3}. {variant}The answer is {i}."


def dropped_reasons(run: RunDir, kind: str = "sample") -> Counter[str]:
    return Counter(
        r["reason"] for r in read_dropped(run.root / "dropped.jsonl") if r["kind"] == kind
    )


def test_clean_run_keeps_every_correct_attempt(tmp_path: Path, make_run) -> None:
    qs = [question(i) for i in range(5)]
    atts = [attempt(q.id, solution(i)) for i, q in enumerate(qs)]
    atts.append(attempt("q0", "wrong answer 7", correct=False, n=1))
    run = make_run(qs, atts)
    stats = curate(run, CurateConfig())
    assert stats["candidates"] == 5
    assert stats["kept_samples"] == 5
    assert stats["dropped_samples"] == {}
    samples = list(read_jsonl(run.samples))
    assert samples[0]["messages"][0] == {"role": "user", "content": qs[0].question}
    assert samples[0]["provenance"]["attempt_ids"] == ["q0-cot-0"]


def test_exact_duplicate_question_keeps_the_better_scored_one(tmp_path: Path, make_run) -> None:
    qs = [question(i) for i in range(4)]
    qs.append(Question(id="dup", question="  PROBLEM 1:   " + qs[1].question[11:], answer="1"))
    atts = [attempt(q.id, solution(i)) for i, q in enumerate(qs[:4])]
    # The duplicate's only solution is hinted, so question q1 (cot) ranks higher and stays.
    atts.append(attempt("dup", solution(1, "Given the hint. "), stage="hinted"))
    run = make_run(qs, atts)
    stats = curate(run, CurateConfig(near_dup=False))
    assert dropped_reasons(run, "question") == {"exact_dup_question": 1}
    assert dropped_reasons(run) == {"exact_dup_question": 1}
    gone = [r for r in read_dropped(run.root / "dropped.jsonl") if r["kind"] == "question"]
    assert gone[0]["id"] == "dup" and gone[0]["detail"]["kept"] == "q1"
    assert stats["kept_questions"] == 4 and stats["kept_samples"] == 4


def test_near_duplicate_question(tmp_path: Path, make_run) -> None:
    base = (
        "A ball of mass two kilograms is dropped from a height of ten meters above the ground "
        "with no air resistance; find its speed just before it hits the ground in meters per second."
    )
    qs = [question(i) for i in range(3)]
    qs += [
        Question(id="a", question=base, answer="14"),
        Question(id="b", question=base.replace("find its speed", "find the speed"), answer="14"),
    ]
    atts = [attempt(q.id, solution(i)) for i, q in enumerate(qs)]
    run = make_run(qs, atts)
    stats = curate(run, CurateConfig(near_threshold=0.7))
    assert stats["dropped_questions"] == {"near_dup_question": 1}
    assert stats["dropped_near_dup_question"] == 1
    row = next(r for r in read_dropped(run.root / "dropped.jsonl") if r["kind"] == "question")
    assert row["id"] == "b" and row["detail"]["kept"] == "a"
    assert row["detail"]["similarity"] >= 0.7


def test_duplicate_solutions_within_a_question(tmp_path: Path, make_run) -> None:
    qs = [question(i) for i in range(3)]
    long = " ".join(
        f"line {k} of the derivation uses {WORDS[k % 13]} carefully." for k in range(12)
    )
    atts = [
        attempt("q0", solution(0), n=0),
        attempt("q0", solution(0).upper(), n=1),  # exact after normalisation
        attempt("q1", long + " The answer is 1.", n=0),
        attempt("q1", long + " So the answer is 1.", n=1),  # near duplicate
        attempt("q2", solution(2)),
        # the same text under another question is not a duplicate with the default scope
        attempt("q2", long + " The answer is 1.", n=5),
    ]
    run = make_run(qs, atts)
    stats = curate(run, CurateConfig())
    assert stats["dropped_samples"] == {"exact_dup_solution": 1, "near_dup_solution": 1}
    assert stats["kept_samples"] == 4
    stats = curate(run, CurateConfig(solution_scope="global"))
    assert stats["dropped_samples"] == {"exact_dup_solution": 2, "near_dup_solution": 1}


def test_decontamination_lists_hits_per_benchmark(tmp_path: Path, make_run) -> None:
    leaked = (
        "What is the smallest positive integer that is divisible by each of the integers "
        "from one through ten inclusive of both ends?"
    )
    qs = [question(i) for i in range(4)] + [Question(id="leak", question=leaked, answer="2520")]
    atts = [attempt(q.id, solution(i)) for i, q in enumerate(qs)]
    # a solution that quotes another benchmark's item
    quoted = "Recall the classic puzzle: " + " ".join(f"tok{k}" for k in range(20)) + ". Answer 3."
    atts.append(attempt("q3", quoted, n=1))
    bench_a = tmp_path / "gsm.jsonl"
    write_jsonl(bench_a, [{"id": "g1", "question": leaked}, {"question": "unrelated " * 20}])
    bench_b = tmp_path / "other.jsonl"
    write_jsonl(
        bench_b, [{"problem": " ".join(f"tok{k}" for k in range(20))}, {"problem": "short one"}]
    )
    run = make_run(qs, atts)
    stats = curate(run, CurateConfig(benchmarks=[bench_a, bench_b]))
    assert stats["dropped_questions"] == {"contaminated": 1}
    assert stats["dropped_samples"] == {"contaminated": 2}  # the leaked question's + the quote
    hits = stats["contamination"]
    assert hits["gsm"] == {"questions": 1, "samples": 0, "items": ["g1"], "short_items": 0}
    assert hits["other"] == {"questions": 0, "samples": 1, "items": ["1"], "short_items": 1}
    # a longer n-gram than the quote is long never matches it
    assert curate(run, CurateConfig(benchmarks=[bench_b], ngram=25))["dropped_samples"] == {}


def test_hinted_policies(tmp_path: Path, make_run) -> None:
    qs = [question(i) for i in range(4)]
    atts = [
        attempt(q.id, solution(i), stage="hinted" if i < 2 else "cot") for i, q in enumerate(qs)
    ]
    run = make_run(qs, atts)
    assert curate(run, CurateConfig(hinted="drop"))["dropped_samples"] == {"hinted": 2}
    stats = curate(run, CurateConfig(hinted="downweight", hinted_weight=0.25))
    assert stats["dropped_samples"] == {}
    weights = sorted(r["weight"] for r in read_jsonl(run.samples))
    assert weights == [0.25, 0.25, 1.0, 1.0]


def test_fallback_verdicts_are_dropped_on_request(tmp_path: Path, make_run) -> None:
    qs = [question(i) for i in range(4)]
    atts = [attempt(q.id, solution(i)) for i, q in enumerate(qs)]
    atts[1].metadata["fallback"] = True  # as annotate records it: the last number decided
    run = make_run(qs, atts)
    assert curate(run, CurateConfig())["kept_samples"] == 4  # kept unless asked
    stats = curate(run, CurateConfig(drop_fallback=True))
    assert stats["dropped_samples"] == {"fallback_verdict": 1}
    assert sorted(r["question_id"] for r in read_jsonl(run.samples)) == ["q0", "q2", "q3"]
    assert dropped_reasons(run) == {"fallback_verdict": 1}


def test_cap_per_question_keeps_the_best(tmp_path: Path, make_run) -> None:
    qs = [question(i) for i in range(2)]
    atts = [
        attempt("q0", solution(0, f"Route {WORDS[k]} {WORDS[k + 1]} {WORDS[k + 2]}. " * 3), n=k)
        for k in range(4)
    ]
    atts[2] = attempt("q0", "Different: " + " ".join(WORDS) + " gives 0.", stage="reflect", n=2)
    atts.append(attempt("q1", solution(1)))
    run = make_run(qs, atts)
    stats = curate(run, CurateConfig(max_per_question=2))
    assert stats["dropped_samples"] == {"over_question_cap": 2}
    kept = [r for r in read_jsonl(run.samples) if r["question_id"] == "q0"]
    assert [r["provenance"]["stage"] for r in kept] == ["cot", "cot"]


def test_subject_ratios(tmp_path: Path, make_run) -> None:
    subjects = ["math"] * 6 + ["physics"] * 4 + ["chemistry"] * 3
    qs = [question(i, subject=s) for i, s in enumerate(subjects)]
    atts = [attempt(q.id, solution(i)) for i, q in enumerate(qs)]
    run = make_run(qs, atts)
    # math:physics 1:1 -> physics (4) limits math to 4; chemistry is not named and passes.
    stats = curate(run, CurateConfig(subject_ratios={"math": 1, "physics": 1}))
    assert stats["dropped_samples"] == {"subject_ratio": 2}
    assert stats["kept_by_subject"] == {"chemistry": 3, "math": 4, "physics": 4}
    stats = curate(run, CurateConfig(subject_ratios={"math": 3, "physics": 1}))
    assert stats["kept_by_subject"] == {"chemistry": 3, "math": 6, "physics": 2}


def test_general_data_mixed_in_at_ratio(tmp_path: Path, make_run) -> None:
    qs = [question(i) for i in range(9)]
    run = make_run(qs, [attempt(q.id, solution(i)) for i, q in enumerate(qs)])
    general = tmp_path / "general.jsonl"
    write_jsonl(
        general,
        [{"instruction": f"Write a haiku about {w}.", "output": f"{w} haiku"} for w in WORDS],
    )
    stats = curate(run, CurateConfig(general=general, general_ratio=0.25))
    assert stats["general"] == {"ratio": 0.25, "wanted": 3, "available": 13, "added": 3}
    rows = list(read_jsonl(run.samples))
    assert sum(r["subject"] == "general" for r in rows) == 3 and len(rows) == 12


def test_stats_match_side_file_and_reruns_do_not_double_count(tmp_path: Path, make_run) -> None:
    qs = [question(i) for i in range(6)]
    atts = [
        attempt(q.id, solution(i), stage="hinted" if i % 2 else "cot") for i, q in enumerate(qs)
    ]
    atts += [attempt("q0", solution(0), n=1)]
    run = make_run(qs, atts)
    for _ in range(2):
        stats = curate(run, CurateConfig(hinted="drop"))
    side = Counter(r["reason"] for r in read_dropped(run.root / "dropped.jsonl", stage="curate"))
    assert side == {"hinted": 3, "exact_dup_solution": 1}
    on_disk = json.loads(run.stats.read_text())["curate"]
    assert on_disk["dropped_samples"] == stats["dropped_samples"] == dict(side)
    assert on_disk["kept_samples"] + sum(side.values()) == on_disk["candidates"] == 7


def test_drop_log_runs_datatrove_style_filters(tmp_path: Path) -> None:
    from sciinstruct.curate import DropLog
    from sciinstruct.curate.samples import build_samples

    qs = [question(i) for i in range(4)]
    samples = build_samples(qs, [attempt(q.id, solution(i)) for i, q in enumerate(qs)])
    log = DropLog("custom")

    def short_question(sample):  # bool, or (False, reason)
        return (False, "odd_question") if sample.question_id in ("q1", "q3") else True

    def never(sample):
        return False

    kept = list(log.apply(samples, short_question))
    assert [s.question_id for s in kept] == ["q0", "q2"]
    assert list(log.apply(kept[:1], never)) == []
    assert log.stats()["dropped_samples"] == {"never": 1, "odd_question": 2}
    assert log.stats()["dropped_odd_question"] == 2
    log.save(tmp_path / "dropped.jsonl")
    assert [r["reason"] for r in read_jsonl(tmp_path / "dropped.jsonl")] == [
        "odd_question",
        "odd_question",
        "never",
    ]


def test_bad_options_are_input_errors(tmp_path: Path, make_run) -> None:
    run = make_run([question(0)], [attempt("q0", solution(0))])
    with pytest.raises(InputError, match="hinted must be one of keep, downweight, drop"):
        curate(run, CurateConfig(hinted="sometimes"))  # type: ignore[arg-type]
    with pytest.raises(InputError, match="solution_scope must be one of question, global"):
        CurateConfig(solution_scope="run")
    with pytest.raises(InputError, match="benchmark file not found"):
        curate(run, CurateConfig(benchmarks=[tmp_path / "missing.jsonl"]))
