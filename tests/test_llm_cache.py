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
    """Wraps a real backend and counts the requests that reach it."""

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


def table(failing: set[str] = frozenset()) -> ScriptedBackend:
    """The shared scripted backend answering `prompt#seed`; fails the prompts in `failing` (to
    test what is cached). Its `requests` are the calls that got past the cache."""
    return ScriptedBackend(
        lambda text, seed: None if text in failing else f"{text}#{seed}",
        "table-v1",
        error="HTTP 503 (scripted)",
        prompt_tokens=2,
        completion_tokens=0,
    )


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
    from sciinstruct.llm import CachedBackend, GenerationRequest, SamplingParams, make_backend
    requests = [GenerationRequest([{"role": "user", "content": f"Count to {i}."}],
                                  SamplingParams(max_tokens=4, seed=i)) for i in range(24)]
    cached = CachedBackend(make_backend("llamacpp"), sys.argv[1], chunk_size=1)
    cached.generate(requests)
    """
)


@needs_llama
def test_killed_writer_then_rerun_makes_only_the_missing_calls(tmp_path, embedded_backend):
    if embedded_backend.name != "llamacpp":
        pytest.skip("the killed writer runs llama.cpp; the fixture runs another engine")
    path = tmp_path / "cache.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(path)])
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if path.exists() and len(ResponseCache(path)) >= 3:
                break
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)  # mid-run, mid-chunk, maybe mid-transaction
    finally:
        proc.wait()
    done = len(ResponseCache(path))
    assert 3 <= done < 24
    assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    requests = [
        GenerationRequest([{"role": "user", "content": f"Count to {i}."}],
                          SamplingParams(max_tokens=4, seed=i))
        for i in range(24)
    ]  # fmt: skip
    counting = Counting(embedded_backend)
    resumed = CachedBackend(counting, path).generate(requests)
    assert counting.calls == 24 - done
    assert all(c.ok and c.text for c in resumed)

    rerun = CachedBackend(counting, path)
    again = rerun.generate(requests)
    assert counting.calls == 24 - done  # the re-run of finished work made no call at all
    assert rerun.hits == 24 and [c.text for c in again] == [c.text for c in resumed]


def test_a_request_repeated_in_one_batch_reaches_the_backend_once(tmp_path):
    backend = table()
    cached = CachedBackend(backend, tmp_path / "c.sqlite")
    out = cached.generate([_ask("r"), _ask("s"), _ask("r")])
    assert [c.text for c in out] == ["r#0", "s#0", "r#0"]
    assert out[0] is not out[2]
    assert (len(backend.requests), cached.misses, cached.hits) == (2, 2, 0)
