"""The Ray executor on a local cluster of 2 CPUs with the embedded model.

One cluster serves the whole session (Ray starts in seconds, not milliseconds). Annotate and
eval on Ray must write what the local path writes; a driver killed with SIGKILL must resume
with nothing lost, nothing duplicated and no finished LLM call asked again; the grader's hard
time limit must hold inside Ray workers (Math-Verify's `signal.alarm` does not: verl #1331).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sciinstruct.annotate import AnnotateConfig, StagePlan, run_annotate
from sciinstruct.distributed import ExecutorConfig, LocalExecutor, RayExecutor
from sciinstruct.errors import InputError
from sciinstruct.jsonl import read_jsonl, write_jsonl
from sciinstruct.rundir import RunDir

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'sciinstruct[ray]')")

DATA = Path(__file__).parents[1] / "src" / "sciinstruct" / "data" / "questions"
TOWER = "\\boxed{10^{10^{10^{10}}}}"  # sympy would build a number with 10^10^10 digits
CONFIG = AnnotateConfig(plan=StagePlan(samples=2, max_tokens=24), batch_size=4, concurrency=4)
N_QUESTIONS = 4


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[str]:
    """A local 2-CPU cluster for the session; yields its address for subprocess drivers."""
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    # Workers cannot import this test module (tests/ is on pytest's path, not theirs): ship the
    # module's functions and classes to them by value.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


def _questions(run: Path) -> Path:
    rows = list(read_jsonl(DATA / "demo_train.jsonl"))[:N_QUESTIONS]
    run.mkdir(parents=True, exist_ok=True)
    write_jsonl(run / "questions.jsonl", rows)
    return run


def _attempts(run: Path) -> list[tuple[Any, ...]]:
    rows = read_jsonl(run / "attempts.jsonl")
    return sorted((a["id"], a["stage"], a["response"], a["correct"]) for a in rows)


@pytest.fixture(scope="module")
def local_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = _questions(tmp_path_factory.mktemp("local") / "run")
    with LocalExecutor() as executor:
        backend = executor.backend("embedded", None, {})
        try:
            run_annotate(run, backend, CONFIG, grading=executor.agrade)
        finally:
            backend.close()
    return run


def test_executor_config_errors_name_the_field() -> None:
    with pytest.raises(InputError, match="executor.name.*did you mean 'ray'"):
        ExecutorConfig(name="rey")
    with pytest.raises(InputError, match="executor.actors.*>= 1"):
        ExecutorConfig(name="ray", actors=0)


def test_recipe_names_the_executor(tmp_path: Path) -> None:
    from sciinstruct.recipe import load_recipe

    recipe = tmp_path / "r.yaml"
    recipe.write_text("executor: {name: ray, actors: 2, num_gpus_per_actor: 1}\n")
    assert load_recipe(recipe).executor == ExecutorConfig(
        name="ray", actors=2, num_gpus_per_actor=1
    )
    recipe.write_text("executor: {name: ray, actor: 2}\n")
    with pytest.raises(InputError, match="executor.actor.*did you mean 'actors'"):
        load_recipe(recipe)


def _grade_tower() -> tuple[Any, str]:
    from sciinstruct.grading import grade

    verdict = grade(TOWER, "x+1", timeout=1.0)
    return verdict.correct, verdict.reason


class _Grader:
    def grade(self) -> tuple[Any, str, bool]:
        import threading

        correct, reason = _grade_tower()
        return correct, reason, threading.current_thread() is threading.main_thread()


def test_grader_time_limit_holds_in_ray_workers(ray_cluster: str) -> None:
    task = ray.remote(num_cpus=0)(_grade_tower)
    correct, reason = ray.get(task.remote(), timeout=300)
    assert correct is False and "timed out after 1 s" in reason
    # A threaded actor runs its calls off the main thread, where signal.alarm cannot be set.
    actor = ray.remote(num_cpus=0, max_concurrency=2)(_Grader).remote()
    correct, reason, on_main = ray.get(actor.grade.remote(), timeout=300)
    ray.kill(actor)
    assert on_main is False
    assert correct is False and "timed out after 1 s" in reason


@pytest.mark.slow
def test_annotate_on_ray_equals_the_local_run(
    ray_cluster: str, local_run: Path, tmp_path: Path
) -> None:
    run = _questions(tmp_path / "run")
    executor = RayExecutor(ExecutorConfig(name="ray", actors=2))
    try:
        backend = executor.backend("embedded", None, {})
        assert len(backend.actors) == 2  # type: ignore[attr-defined]
        funnel = run_annotate(run, backend, CONFIG, grading=executor.agrade)
        stats = backend.stats  # type: ignore[attr-defined]
        assert all(s.requests > 0 for s in stats)  # both actors served requests
    finally:
        executor.close()
    assert _attempts(run) == _attempts(local_run)
    assert funnel.to_stats()["solved"] == RunDir(local_run).read_stats()["annotate"]["solved"]


@pytest.mark.slow
def test_eval_on_ray_equals_the_local_run(ray_cluster: str, tmp_path: Path) -> None:
    from sciinstruct.evaluate import EvalConfig, run_eval
    from sciinstruct.llm import CachedBackend

    questions = tmp_path / "eval.jsonl"
    write_jsonl(questions, list(read_jsonl(DATA / "eval_set.jsonl"))[:6])
    config = EvalConfig(max_tokens=24, batch_size=6)
    results = {}
    for name, executor in (
        ("local", LocalExecutor()),
        ("ray", RayExecutor(ExecutorConfig(name="ray", actors=2))),
    ):
        out = tmp_path / name
        backend = CachedBackend(executor.backend("embedded", None, {}), out / "cache.sqlite")
        try:
            results[name] = run_eval([str(questions)], backend, out, config, grading=executor.grade)
        finally:
            backend.close()
            executor.close()
    rows = {
        name: [
            (p["question_id"], p["response"], p["correct"])
            for p in read_jsonl(tmp_path / name / "predictions.jsonl")
        ]
        for name in results
    }
    assert rows["ray"] == rows["local"] and len(rows["ray"]) == 6
    assert results["ray"]["accuracy"] == results["local"]["accuracy"]


def _cache_rows(run: Path) -> int:
    with sqlite3.connect(run / "cache.sqlite") as conn:
        return conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0]


@pytest.mark.slow
def test_killed_driver_resumes_with_nothing_lost_or_repeated(
    ray_cluster: str, local_run: Path, tmp_path: Path
) -> None:
    run = _questions(tmp_path / "run")
    command = [
        sys.executable, "-m", "sciinstruct.cli.main", "annotate", "--run", str(run),
        "--samples", "2", "--max-tokens", "24", "--batch-size", "1", "--concurrency", "2",
        "--executor", "ray", "--ray-address", ray_cluster, "--actors", "2",
    ]  # fmt: skip
    driver = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    attempts = run / "attempts.jsonl"
    deadline = time.monotonic() + 400
    while time.monotonic() < deadline and driver.poll() is None:
        if attempts.exists() and len(attempts.read_text().splitlines()) >= 3:
            break
        time.sleep(0.2)
    assert driver.poll() is None, "the driver finished before it could be killed"
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait()
    written = len(attempts.read_text().splitlines())
    cached = _cache_rows(run)
    total = len(_attempts(local_run))
    assert 3 <= written <= cached < total  # killed mid-run, every written attempt was cached

    executor = RayExecutor(ExecutorConfig(name="ray", actors=2))
    try:
        backend = executor.backend("embedded", None, {})
        config = AnnotateConfig(plan=CONFIG.plan, batch_size=1, concurrency=2)
        run_annotate(run, backend, config, grading=executor.agrade)
    finally:
        executor.close()
    stats = RunDir(run).read_stats()["annotate"]["cache"]
    assert stats["misses"] == total - cached  # no finished call asked again
    assert stats["hits"] == cached - written  # landed in the cache, not yet in the ledger
    ids = [a["id"] for a in read_jsonl(attempts)]
    assert len(ids) == len(set(ids)) == total  # nothing lost, nothing duplicated
    assert _attempts(run) == _attempts(local_run)


@pytest.mark.slow
def test_a_lost_actor_is_restarted_and_its_call_resent(ray_cluster: str) -> None:
    from sciinstruct.llm.base import GenerationRequest, SamplingParams

    executor = RayExecutor(ExecutorConfig(name="ray", actors=1))
    try:
        backend: Any = executor.backend("embedded", None, {})
        request = GenerationRequest(
            [{"role": "user", "content": "What is 2 + 2?"}], SamplingParams(max_tokens=8)
        )
        before = backend.generate([request])[0]
        pid = ray.get(backend.actors[0].identity.remote())["pid"]
        os.kill(pid, signal.SIGKILL)  # the actor's process dies, as on a lost node
        after = backend.generate([request])[0]
        assert after.ok and after.text == before.text
        assert ray.get(backend.actors[0].identity.remote())["pid"] != pid
    finally:
        executor.close()


@pytest.mark.slow
def test_critique_and_eval_commands_run_on_ray(
    ray_cluster: str, local_run: Path, tmp_path: Path
) -> None:
    import json
    import shutil

    from sciinstruct.cli.main import main

    run = tmp_path / "run"
    shutil.copytree(local_run, run)
    ray_args = ["--executor", "ray", "--actors", "2"]
    critique = ["critique", str(run), "--limit", "3", "--max-tokens", "16", *ray_args]
    assert main(critique) == 0
    stats = RunDir(run).read_stats()["critique"]
    assert stats["new"] == 3 and len(list(read_jsonl(run / "critiques.jsonl"))) == 3
    questions = tmp_path / "eval.jsonl"
    write_jsonl(questions, list(read_jsonl(DATA / "eval_set.jsonl"))[:4])
    out = tmp_path / "eval"
    evaluate = ["eval", "-b", str(questions), "--max-tokens", "16", "--out", str(out), *ray_args]
    assert main(evaluate) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["executor"]["name"] == "ray"
    assert results["backend"] == "llamacpp" and results["overall"]["n"] == 4
