"""The hard time limit: off the main thread, in daemonic children, after crashes; and no eval."""

from __future__ import annotations

import builtins
import multiprocessing
from concurrent.futures import ThreadPoolExecutor

import pytest

from sciinstruct.grading import grade
from sciinstruct.grading.sandbox import WorkerPool

TOWER = "\\boxed{10^{10^{10^{10}}}}"  # sympy would try to build a number with 10^10^10 digits


def test_timeout_holds_in_a_thread_pool() -> None:
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = [
            pool.submit(grade, TOWER, "x+1", timeout=1.0),
            pool.submit(grade, "2\\sqrt{2}", "\\sqrt{8}"),
            pool.submit(grade, "\\frac{1}{3}", "\\frac{2}{6}"),
        ]
        tower, root, fraction = (f.result() for f in futures)
    assert tower.correct is False and "timed out after 1 s" in tower.reason
    assert root.correct is True and fraction.correct is True


def _grade_in_child(results: multiprocessing.Queue) -> None:
    verdict = grade(TOWER, "5", timeout=1.0)
    results.put((verdict.correct, verdict.reason, grade("x^2", "x \\cdot x").correct))


def test_timeout_holds_in_a_daemonic_child_process() -> None:
    # Daemonic processes may not start multiprocessing children; our workers are plain
    # subprocesses, so grading works inside multiprocessing pools and Ray workers alike.
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    child = context.Process(target=_grade_in_child, args=(results,), daemon=True)
    child.start()
    correct, reason, after = results.get(timeout=120)
    child.join(timeout=30)
    assert correct is False and "timed out" in reason
    assert after is True


def test_pool_recovers_from_a_killed_worker_and_a_timeout() -> None:
    pool = WorkerPool(size=1)
    try:
        first = pool.run([("equal", ("2\\sqrt{2}", "\\sqrt{8}"))], timeout=30)
        assert first[0].value == [True, "math-verify: equivalent"]
        for worker in list(pool._all):
            worker.proc.kill()  # dies while idle: the next task goes to a fresh worker
            worker.proc.wait()
        tasks = [
            ("number", ("10^{10^{10^{10}}}",)),
            ("number", ("\\frac{1}{4}",)),
            ("gold_problem", ("\\frac{",)),
        ]
        outcomes = pool.run(tasks, timeout=1.0)
        assert outcomes[0].error == "timeout"
        assert outcomes[1].value == 0.25
        assert outcomes[2].value == "math-verify cannot parse it"
    finally:
        pool.close()


def test_a_spare_worker_succeeds_one_killed_at_its_limit() -> None:
    """The task after an overrun runs on the spare (started before the overrun, imports done),
    and a new spare is started for the next one: nobody waits for a cold start."""
    pool = WorkerPool(size=1, spare=True)
    try:
        spare = pool._spare
        assert spare is not None and spare not in pool._all
        outcomes = pool.run(
            [("number", ("10^{10^{10^{10}}}",)), ("number", ("\\frac{1}{4}",))], timeout=1.0
        )
        assert outcomes[0].error == "timeout" and outcomes[1].value == 0.25
        assert pool._all == {spare}  # the second task ran on the former spare
        assert pool._spare is not None and pool._spare is not spare
        assert pool._spare.proc.poll() is None
    finally:
        pool.close()
    assert spare.proc.poll() is not None  # close() stops the spare as well


def test_many_threads_share_the_pool() -> None:
    pairs = [(f"\\frac{{{n}}}{{{2 * n}}}", "\\frac{1}{2}") for n in range(1, 13)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        verdicts = list(pool.map(lambda pair: grade(*pair, answer_type="expression"), pairs))
    assert [v.correct for v in verdicts] == [True] * 12


@pytest.mark.parametrize(
    "payload",
    [
        "__import__('os').system('touch /tmp/sciinstruct_pwned')",
        "exec('1')",
        "eval('2')",
        "lambda x: x",
        "().__class__.__bases__[0].__subclasses__()",
    ],
)
def test_model_output_never_reaches_eval(monkeypatch: pytest.MonkeyPatch, payload: str) -> None:
    """Run the symbolic check in-process with eval, exec and sympy's parse_expr tripwired."""
    import math_verify.parser

    from sciinstruct.grading import mathexpr

    seen: list[str] = []

    def tripwire(name: str, real):  # noqa: ANN001, ANN202
        def call(source, *args, **kwargs):  # noqa: ANN001, ANN202
            if isinstance(source, str) and payload[:8] in source:
                seen.append(f"{name}: {source[:60]}")
                raise AssertionError(f"{name} called on model output {source!r}")
            return real(source, *args, **kwargs)  # sympy's own internal uses stay working

        return call

    monkeypatch.setattr(builtins, "eval", tripwire("eval", builtins.eval))
    monkeypatch.setattr(builtins, "exec", tripwire("exec", builtins.exec))
    monkeypatch.setattr(
        math_verify.parser, "parse_expr", tripwire("parse_expr", math_verify.parser.parse_expr)
    )
    mathexpr._parse.cache_clear()
    result = mathexpr.equal(payload, "x")
    assert seen == []
    assert result[0] is False
