"""The ledger's on-disk index of a resumed run, and the scheduler's bounded window of questions."""

from __future__ import annotations

from pathlib import Path

from sciinstruct.annotate import Ledger, StagePlan
from sciinstruct.annotate.scheduler import Scheduler
from sciinstruct.jsonl import BadLine, write_jsonl
from sciinstruct.records import Attempt, Question, Usage


def _attempt(qid: str, stage: str, sample: int, correct: bool | None, **kw) -> Attempt:
    return Attempt(
        id=kw.pop("id", f"{qid}-{stage}-{sample}"), question_id=qid, stage=stage,
        model=kw.pop("model", "m1"), messages=[{"role": "user", "content": "long prompt"}],
        response=kw.pop("response", f"answer of {qid}"), correct=correct,
        usage=Usage(prompt_tokens=10, completion_tokens=5), metadata={"sample": sample}, **kw,
    )  # fmt: skip


def test_a_resumed_ledger_reads_each_question_from_its_disk_index(tmp_path: Path):
    attempts = tmp_path / "attempts.jsonl"
    rows = [
        _attempt("q1", "cot", 0, False, response="wrong: 5"),
        _attempt("q1", "cot", 1, None, id="q1-fail", error="HTTP 500"),
        _attempt("q2", "cot", 0, True),
        _attempt("q1", "cot", 0, False, response="a later copy of the same id"),
        _attempt("q3", "cot", 0, True, model="m0"),
        _attempt("q3", "eval", 0, True, id="q3-eval").model_copy(update={"metadata": {}}),
    ]
    write_jsonl(attempts, rows)
    with open(attempts, "a", encoding="utf-8") as fh:
        fh.write('{"id": "cut-off')  # a kill mid-line
    bad: list[BadLine] = []
    ledger = Ledger.load(attempts, bad)
    try:
        assert [(b.line, b.reason) for b in bad] == [(7, "truncated last line")]
        index = ledger.index
        assert index is not None and index.path.parent == tmp_path
        assert index.path.name.startswith(".ledger-")
        assert len(index) == 5  # the second copy of q1-cot-0 is not indexed
        assert ledger.models() == {"m0", "m1"}  # the eval attempt has no slot: not counted
        assert ledger.finished == {}  # nothing held before a question is opened
        seen: list[str] = []
        ledger.on_add = lambda a: seen.append(a.id)
        ledger.open("q1")
        assert seen == ["q1-cot-0", "q1-fail"]
        done = ledger.finished[("q1", "cot", 0, None)]
        assert (done.id, done.correct, done.response) == ("q1-cot-0", False, "wrong: 5")
        assert done.usage.prompt_tokens == 10 and done.messages == []  # prompts stay on disk
        assert ledger.failures[("q1", "cot", 1, None)] == 1
        ledger.open("q1")  # opening twice adds nothing
        assert seen == ["q1-cot-0", "q1-fail"]
        ledger.forget("q1")
        assert ledger.finished == {} and not ledger.failures
    finally:
        ledger.close()
    assert not index.path.exists()
    assert Ledger.load(tmp_path / "absent.jsonl").index is None


def _questions(n: int, read: list[str]):
    for i in range(n):
        read.append(f"q{i}")
        yield Question(id=f"q{i}", question=f"What is {i} + 1?", answer=str(i + 1))


def test_the_scheduler_holds_at_most_its_window_of_questions():
    read: list[str] = []
    ledger = Ledger()
    plan = StagePlan(samples=2)
    scheduler = Scheduler(_questions(10, read), ledger, ("cot",), plan, window=3)
    assert read == ["q0", "q1", "q2"]  # the rest is not read yet
    assert len(scheduler.ready) == 6
    held = []
    while not scheduler.finished:
        batch = scheduler.take(2)
        # q0..q4 solved at cot; the others are wrong with nothing after cot
        ledger.extend(
            _attempt(s.question.id, "cot", s.index, int(s.question.id[1:]) < 5) for s in batch
        )
        scheduler.done(batch)
        held.append(len(scheduler._active))
    assert max(held) <= 3 and held[-1] == 0
    assert read == [f"q{i}" for i in range(10)] and scheduler.questions == 10
    assert dict(scheduler.settled) == {"solved:cot": 5, "unsolved": 5}
    assert ledger.finished == {}  # settled questions are forgotten
