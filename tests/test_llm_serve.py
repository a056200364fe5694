"""`sciinstruct serve`: real llama.cpp server processes on loopback, stopped by Ctrl-C."""

from __future__ import annotations

import importlib.util
import signal
import socket
import subprocess
import sys

import httpx
import pytest

from sciinstruct.llm.serve import free_port

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None, reason="llama-cpp-python is not installed"
)


def _two_free_ports() -> int:
    """A port whose successor is free too (`--parallel 2` takes port and port + 1)."""
    while True:
        port = free_port()
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", port + 1))
            return port
        except OSError:
            continue


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_serve_prints_urls_answers_and_stops_on_ctrl_c(stop):
    port = _two_free_ports()
    cmd = [sys.executable, "-m", "sciinstruct.cli.main", "serve", "--port", str(port),
           "--parallel", "2", "--n-ctx", "1024"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        urls = [proc.stdout.readline().strip() for _ in range(2)]
        assert urls == [f"http://127.0.0.1:{port}/v1", f"http://127.0.0.1:{port + 1}/v1"]
        for url in urls:
            models = httpx.get(url + "/models", timeout=10).json()
            assert models["data"][0]["id"].endswith("SmolLM2-135M-Instruct.Q4_1.gguf")
        proc.send_signal(stop)
        try:
            code = proc.wait(timeout=30)  # a hang guard, not a speed check
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail(f"serve still running 30 s after {stop!r}; stderr:\n{proc.stderr.read()}")
        assert code == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    for url in urls:  # the server processes went with it
        with pytest.raises(httpx.ConnectError):
            httpx.get(url + "/models", timeout=2)


def test_batched_server_answers_concurrent_requests_with_the_in_process_texts():
    from sciinstruct.llm import GenerationRequest, SamplingParams, make_backend
    from sciinstruct.llm.openai_compat import OpenAIBackend
    from sciinstruct.llm.serve import start_server

    questions = ["What is 2 + 3?", "Name a noble gas.", "Why is ice cold?"]
    requests = [
        GenerationRequest([{"role": "user", "content": q}],
                          SamplingParams(temperature=0.9, max_tokens=10, seed=seed))
        for q in questions for seed in (0, 1)
    ]  # fmt: skip
    local = make_backend("llamacpp", n_threads=1, parallel=1, slots=1, n_ctx=512)
    try:
        expected = [c.text for c in local.generate(requests)]
    finally:
        local.close()
    with start_server(n_ctx=512, n_threads=1, slots=4) as server:
        client = OpenAIBackend(base_url=server.base_url, concurrency=6, max_retries=0)
        served = client.generate(requests)  # 6 at once into 4 slots: batched and queued
        too_long = httpx.post(
            server.base_url + "/chat/completions",
            json={"messages": [{"role": "user", "content": "word " * 600}]},
            timeout=60,
        )
        streamed = httpx.post(
            server.base_url + "/chat/completions",
            json={"messages": [{"role": "user", "content": "hi"}], "stream": True},
            timeout=60,
        )
    assert [c.error for c in served] == [None] * 6
    assert [c.text for c in served] == expected
    assert [c.completion_tokens for c in served] == [10] * 6
    assert too_long.status_code == 400
    assert "exceed context window of 512" in too_long.json()["error"]["message"]
    assert streamed.status_code == 400 and "stream" in streamed.json()["error"]["message"]
