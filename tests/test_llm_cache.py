"""The SQLite response cache: hits, misses, concurrent writers, a killed writer, free re-runs."""

from __future__ import annotations

import importlib.util
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Sequence

import pytest

from sciinstruct.llm import (
    CachedBackend,
    Completion,
    GenerationRequest,
    ResponseCache,
    SamplingParams,
    cache_key,
)
from scripted import ScriptedBackend

needs_llama = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None, reason="llama-cpp-python is not installed"
)


def _ask(text: str, seed: int = 0, max_tokens: int = 4) -> GenerationRequest:
    return GenerationRequest(
        [{"role": "user", "content": text}], SamplingParams(max_tokens=max_tokens, seed=seed)
    )


class Counting:
    """Wraps a backend and counts the requests that reach it."""

    def __init__(self, backend) -> None:
        self.backend, self.name, self.model = backend, backend.name, backend.model
        self.calls = 0

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]:
        self.calls += len(requests)
        return self.backend.generate(requests)

    async def agenerate(self, requests: Sequence[GenerationRequest]) -> list[Completion]:
        self.calls += len(requests)
        return await self.backend.agenerate(requests)

    def close(self) -> None:
        pass


def table(failing: set[str] = frozenset(), kind: type[ScriptedBackend] = ScriptedBackend):  # type: ignore[no-untyped-def]
    """The shared scripted backend answering `prompt#seed`; fails the prompts in `failing` (to
    test what is cached). Its `requests` are the calls that got past the cache."""
    return kind(
        lambda text, seed: None if text in failing else f"{text}#{seed}",
        "table-v1",
        error="HTTP 503 (scripted)",
        prompt_tokens=2,
        completion_tokens=0,
    )


class Silent(ScriptedBackend):
    """The shared scripted backend as a caller's own backend may be written: no `on_done`."""

    def generate(self, requests):  # type: ignore[override]
        return super().generate(requests)


def test_hit_and_miss(tmp_path):
    backend = table()
    cached = CachedBackend(backend, tmp_path / "cache.sqlite")
    first = cached.generate([_ask("a"), _ask("b"), _ask("a", seed=1)])
    assert [c.text for c in first] == ["a#0", "b#0", "a#1"]
    assert not any(c.cached for c in first)
    second = cached.generate([_ask("b"), _ask("c"), _ask("a", seed=1)])
    assert [c.text for c in second] == ["b#0", "c#0", "a#1"]
    assert [c.cached for c in second] == [True, False, True]
    assert (cached.hits, cached.misses, len(backend.requests)) == (2, 4, 4)
    assert second[0].prompt_tokens == 2


def test_key_separates_backend_model_messages_params_and_seed():
    base = _ask("q")
    keys = {
        cache_key("openai", "m", base),
        cache_key("vllm", "m", base),
        cache_key("openai", "m2", base),
        cache_key("openai", "m", _ask("q2")),
        cache_key("openai", "m", _ask("q", seed=1)),
        cache_key("openai", "m", _ask("q", max_tokens=5)),
    }
    assert len(keys) == 6
    assert cache_key("openai", "m", base) == cache_key("openai", "m", _ask("q"))


def test_errors_are_not_cached_and_are_retried_next_run(tmp_path):
    path = tmp_path / "cache.sqlite"
    first = CachedBackend(table(failing={"bad"}), path).generate([_ask("ok"), _ask("bad")])
    assert first[1].error == "HTTP 503 (scripted)"
    backend = table()
    again = CachedBackend(backend, path).generate([_ask("ok"), _ask("bad")])
    assert [c.text for c in again] == ["ok#0", "bad#0"]
    assert len(backend.requests) == 1 and len(ResponseCache(path)) == 2


def test_async_path_uses_the_same_cache(tmp_path):
    import asyncio

    backend = table()
    cached = CachedBackend(backend, tmp_path / "c.sqlite")
    asyncio.run(cached.agenerate([_ask("x"), _ask("y")]))
    out = cached.generate([_ask("x"), _ask("y")])
    assert [c.cached for c in out] == [True, True] and len(backend.requests) == 2


def _write_rows(path: str, writer: int, n: int) -> None:
    cache = ResponseCache(path)
    for i in range(n):  # one short transaction per row: the worst case for contention
        cache.put_many([(f"w{writer}-{i}", "b", "m", Completion(text=f"{writer}:{i}"))])


def test_concurrent_writers_threads_and_processes(tmp_path):
    path = str(tmp_path / "cache.sqlite")
    shared = ResponseCache(path)  # threads share one object; processes open their own
    threads = [
        threading.Thread(
            target=lambda w=w: [
                shared.put_many([(f"t{w}-{i}", "b", "m", Completion(text=str(i)))])
                for i in range(100)
            ]
        )
        for w in range(4)
    ]
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_rows, args=(path, w, 200)) for w in range(2)]
    for p in procs:
        p.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    assert len(ResponseCache(path)) == 4 * 100 + 2 * 200
    assert shared.get("w1-199").text == "1:199"
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


_KILLED_WRITER = textwrap.dedent(
    """
    import sys
    N = int(sys.argv[2])
    from sciinstruct.llm import CachedBackend, GenerationRequest, SamplingParams, make_backend
    requests = [GenerationRequest([{"role": "user", "content": f"Count to {i}."}],
                                  SamplingParams(max_tokens=4, seed=i)) for i in range(N)]
    cached = CachedBackend(make_backend("llamacpp"), sys.argv[1], chunk_size=1)
    cached.generate(requests)
    """
)


@needs_llama
def test_killed_writer_then_rerun_makes_only_the_missing_calls(tmp_path, embedded_backend):
    if embedded_backend.name != "llamacpp":
        pytest.skip("the killed writer runs llama.cpp; the fixture runs another engine")
    path = tmp_path / "cache.sqlite"
    # Enough requests that the kill lands mid-run even when the machine is fast: 24 four-token
    # answers can all finish between two polls, and then there is nothing left to kill.
    total = 120
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(path), str(total)])
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if path.exists() and len(ResponseCache(path)) >= 3:
                break
            time.sleep(0.05)
        assert proc.poll() is None, f"the writer ended before the kill (exit {proc.returncode})"
        os.kill(proc.pid, signal.SIGKILL)  # mid-run, mid-chunk, maybe mid-transaction
    finally:
        proc.wait()
    done = len(ResponseCache(path))
    assert 3 <= done < total
    assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    requests = [
        GenerationRequest([{"role": "user", "content": f"Count to {i}."}],
                          SamplingParams(max_tokens=4, seed=i))
        for i in range(total)
    ]  # fmt: skip
    counting = Counting(embedded_backend)
    resumed = CachedBackend(counting, path).generate(requests)
    assert counting.calls == total - done
    assert all(c.ok and c.text for c in resumed)

    rerun = CachedBackend(counting, path)
    again = rerun.generate(requests)
    assert counting.calls == total - done  # the re-run of finished work made no call at all
    assert rerun.hits == total and [c.text for c in again] == [c.text for c in resumed]


def test_a_request_repeated_in_one_batch_reaches_the_backend_once(tmp_path):
    backend = table()
    cached = CachedBackend(backend, tmp_path / "c.sqlite")
    out = cached.generate([_ask("r"), _ask("s"), _ask("r")])
    assert [c.text for c in out] == ["r#0", "s#0", "r#0"]
    assert out[0] is not out[2]
    assert (len(backend.requests), cached.misses, cached.hits) == (2, 2, 0)


def _rows(path) -> int:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]


def test_a_backend_without_on_done_is_stored_when_its_call_returns(tmp_path):
    path = tmp_path / "c.sqlite"
    told: list[tuple[int, str, int]] = []
    cached = CachedBackend(table(kind=Silent), path)
    cached.generate([_ask("warm")])  # one row already there: a hit is reported first

    def on_done(index: int, completion: Completion) -> None:
        told.append((index, completion.text, _rows(path)))

    # Silent takes no on_done: the hit is told at once, the misses after the call returns
    out = cached.generate([_ask("a"), _ask("warm"), _ask("b")], on_done=on_done)
    assert [c.text for c in out] == ["a#0", "warm#0", "b#0"]
    assert told == [(1, "warm#0", 1), (0, "a#0", 2), (2, "b#0", 3)]


@pytest.mark.parametrize("asynchronous", [False, True])
def test_a_reporting_backend_has_each_completion_stored_as_it_finishes(tmp_path, asynchronous):
    import asyncio

    path = tmp_path / "c.sqlite"
    seen: list[tuple[int, int]] = []
    cached = CachedBackend(table(failing={"bad"}), path)  # reports each as it finishes
    batch = [_ask("a"), _ask("bad"), _ask("b"), _ask("a"), _ask("c")]

    def on_done(index: int, completion: Completion) -> None:
        seen.append((index, _rows(path)))

    if asynchronous:
        out = asyncio.run(cached.agenerate(batch, on_done=on_done))
    else:
        out = cached.generate(batch, on_done=on_done)
    # rows land one by one; the failure is not stored; the repeat of "a" is told with it
    assert seen == [(0, 1), (3, 1), (1, 1), (2, 2), (4, 3)]
    assert [c.text for c in out] == ["a#0", "", "b#0", "a#0", "c#0"]
    assert (cached.cache.hits, cached.cache.misses, cached.cache.stores) == (0, 4, 3)
    assert cached.cache.repeated() == 0


def test_the_cache_counts_hits_misses_stores_and_repeated_generations(tmp_path):
    path = tmp_path / "c.sqlite"
    cache = ResponseCache(path)
    assert cache.put("k1", "b", "m", Completion(text="one"))
    assert not cache.put("k2", "b", "m", Completion(error="HTTP 500"))
    cache.get_many(["k1", "k2", "k1"])
    assert (cache.hits, cache.misses, cache.stores) == (1, 1, 1)
    # a second store of k1 is the same request generated again (e.g. lost before its store)
    cache.put("k1", "b", "m", Completion(text="one again"))
    other = ResponseCache(path)  # the count lives in the file: another process sees it
    assert other.repeated() == 1 and other.get("k1").text == "one again" and len(other) == 1


def test_a_cache_from_before_stores_were_counted_is_upgraded(tmp_path):
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE responses (key TEXT PRIMARY KEY, backend TEXT NOT NULL, model TEXT NOT "
            "NULL, text TEXT NOT NULL, finish_reason TEXT, prompt_tokens INTEGER NOT NULL, "
            "completion_tokens INTEGER NOT NULL, latency_s REAL NOT NULL, created REAL NOT NULL)"
        )
        db.execute("INSERT INTO responses VALUES ('k', 'b', 'm', 'old', 'stop', 1, 2, 0.5, 0)")
    cache = ResponseCache(path)
    assert cache.get("k").text == "old" and cache.repeated() == 0
    cache.put("k", "b", "m", Completion(text="new"))
    assert cache.repeated() == 1


def test_the_openai_backend_stores_a_fast_answer_while_a_slow_one_is_still_out(tmp_path):
    from fault_server import run_fault_server
    from sciinstruct.llm.openai_compat import OpenAIBackend

    path = tmp_path / "c.sqlite"
    seen: list[tuple[str, int]] = []
    with run_fault_server(hang_s=1.5) as faults:
        # the first request to arrive hangs past the timeout and is retried; the other answers
        backend = OpenAIBackend(
            "m", base_url=faults.url("hang", 1, "each"), timeout=1.0, backoff_base=0.01,
            backoff_max=0.01, concurrency=2,
        )  # fmt: skip
        cached = CachedBackend(backend, path)
        out = cached.generate(
            [_ask("one"), _ask("two")],
            on_done=lambda i, c: seen.append((c.text, _rows(path))),
        )
    assert sorted(c.text for c in out) == ["echo: one", "echo: two"]
    # the answer that came first was in the file while the other was still being retried
    assert [rows for _, rows in seen] == [1, 2]


@needs_llama
def test_the_embedded_engine_stores_each_completion_as_it_finishes(tmp_path):
    from sciinstruct.llm.llamacpp import LlamaCppBackend

    path = tmp_path / "c.sqlite"
    engine = LlamaCppBackend(parallel=1, n_ctx=512, n_threads=1)
    try:
        seen: list[int] = []
        cached = CachedBackend(engine, path)
        requests = [_ask(f"Say {word}.", max_tokens=3) for word in ("yes", "no", "maybe")]
        out = cached.generate(requests, on_done=lambda i, c: seen.append(_rows(path)))
    finally:
        engine.close()
    assert all(c.ok for c in out)
    assert seen == [1, 2, 3]  # one row per finished completion, not three when the batch ends


def test_a_sync_backend_written_without_on_done_is_cached_through_agenerate(tmp_path):
    """A `SyncBackend` subclass whose `generate` predates `on_done` still works behind the
    cache on the async path: its batch is stored when the call returns."""
    import asyncio

    cached = CachedBackend(table(kind=Silent), tmp_path / "c.sqlite")  # a SyncBackend, old style
    out = asyncio.run(cached.agenerate([_ask("a"), _ask("b")]))
    assert [c.text for c in out] == ["a#0", "b#0"]
    assert len(ResponseCache(tmp_path / "c.sqlite")) == 2
