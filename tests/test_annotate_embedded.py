"""End to end with the embedded model: real generation, real grading, through the CLI."""

from __future__ import annotations

import pytest

from sciinstruct.cli.main import main
from sciinstruct.jsonl import read_jsonl, write_jsonl
from sciinstruct.rundir import RunDir

pytestmark = pytest.mark.slow

QUESTIONS = [
    {"id": "add", "question": "What is 2 + 3?", "answer": "5", "subject": "math"},
    {"id": "spider", "question": "How many legs does a spider have?", "answer": "8",
     "subject": "biology"},
    {"id": "speed", "question": "A car travels 100 m in 20 s. What is its average speed?",
     "answer": "5", "unit": "m/s", "subject": "physics"},
]  # fmt: skip


def test_annotate_then_critique_with_the_embedded_model(tmp_path):
    source = tmp_path / "questions.jsonl"
    write_jsonl(source, QUESTIONS)
    run = RunDir(tmp_path / "run")
    # One llama.cpp thread: on a shared CPU, threads that spin-wait on each other cost 7x.
    one_thread = ["--option", "n_threads=1"]
    tiny = ["--max-tokens", "32", "--samples", "1", "--seed", "3", *one_thread]

    assert main(["annotate", str(source), "--run", str(run.root), *tiny]) == 0
    attempts = list(read_jsonl(run.attempts))
    assert {a["question_id"] for a in attempts} == {"add", "spider", "speed"}
    for a in attempts:
        assert a["error"] is None and a["response"].strip()
        assert a["usage"]["completion_tokens"] > 0 and a["usage"]["prompt_tokens"] > 0
        assert a["correct"] in (True, False) and a["grade_reason"]
        assert a["model"].startswith("SmolLM2-135M-Instruct")
    stats = run.read_stats()["annotate"]
    assert stats["solved_total"] + stats["unsolved"] == 3
    assert stats["stages"]["cot"]["attempts"] == 3
    for qid in ("add", "spider", "speed"):
        mine = [a for a in attempts if a["question_id"] == qid]
        # each question ends solved, or went through every stage
        assert any(a["correct"] for a in mine) or {a["stage"] for a in mine} >= {"cot", "hinted"}

    # A second run asks the model nothing.
    assert main(["annotate", "--run", str(run.root), *tiny]) == 0
    assert all(s["requests"] == 0 for s in run.read_stats()["annotate"]["stages"].values())
    assert len(list(read_jsonl(run.attempts))) == len(attempts)

    assert main(["critique", str(run.root), "--max-tokens", "32", "--limit", "3", *one_thread]) == 0
    critiques = list(read_jsonl(run.critiques))
    assert len(critiques) == 3
    for c in critiques:
        assert c["raw"].strip() and c["judge_model"].startswith("SmolLM2")
        assert c["score"] is None or 1 <= c["score"] <= 10
    report = run.read_stats()["critique"]
    assert report["selected"] == report["judged"] == 3
    assert report["agreement"]["null_scores"] == sum(c["score"] is None for c in critiques)
