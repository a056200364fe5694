"""The one stage runner: a recipe and the command line drive an engine the same way.

Against an OpenAI-compatible stub on loopback that answers after a fixed latency and counts the
requests it holds at once, `sciinstruct run` with a recipe and `sciinstruct annotate` with the
same settings as flags keep the same number of requests in flight. Before the runner, the
recipe path with `concurrency: 64` kept 16 (AnnotateConfig's in-process defaults), the command
64.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from sciinstruct.cli.main import main
from sciinstruct.jsonl import read_jsonl, write_jsonl
from sciinstruct.rundir import RunDir

# Long enough that every worker's request arrives before the first answer leaves, on a loaded
# machine: the count, not the time, is asserted.
LATENCY_S = 1.0
QUESTIONS = 128


class CountingServer(ThreadingHTTPServer):
    """Chat completions answered `\\boxed{2}` after `LATENCY_S`; `peak` is the most requests it
    held at once."""

    daemon_threads = True
    request_queue_size = 256  # 64 connections opening at once must not be refused

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.in_flight = 0
        self.peak = 0
        self.served = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def reset(self) -> None:
        with self.lock:
            self.in_flight = self.peak = self.served = 0


class _Handler(BaseHTTPRequestHandler):
    server: CountingServer
    protocol_version = "HTTP/1.1"  # keep-alive: the client's pooled connections stay open

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # /v1/models
        self._send({"data": [{"id": "stub"}]})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        with self.server.lock:
            self.server.in_flight += 1
            self.server.peak = max(self.server.peak, self.server.in_flight)
        time.sleep(LATENCY_S)
        with self.server.lock:
            self.server.in_flight -= 1
            self.server.served += 1
        message = {"role": "assistant", "content": "1 + 1 = 2, so \\boxed{2}"}
        self._send(
            {
                "choices": [{"message": message, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 8},
            }
        )

    def _send(self, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def counting_server() -> Iterator[CountingServer]:
    server = CountingServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def server() -> Iterator[CountingServer]:
    with counting_server() as running:
        yield running


@pytest.fixture
def questions(tmp_path: Path) -> Path:
    path = tmp_path / "questions.jsonl"
    rows = [{"id": f"q{i}", "question": f"{i} + 2 - {i}?", "answer": "2"} for i in range(QUESTIONS)]
    write_jsonl(path, rows)
    return path


def run_recipe(tmp_path: Path, questions: Path, backend: str) -> RunDir:
    run = tmp_path / "recipe-run"
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        f"run_dir: {run}\nquestions: [{questions}]\nstages: [ingest, annotate]\n"
        f"backend: {backend}\n"
        "annotate: {stages: [cot], plan: {samples: 1, max_tokens: 64}}\n",
        encoding="utf-8",
    )
    assert main(["run", str(recipe)]) == 0
    return RunDir(run)


def run_command(tmp_path: Path, questions: Path, *flags: str) -> RunDir:
    run = RunDir(tmp_path / "command-run")
    args = ["annotate", str(questions), "--run", str(run.root), "--stages", "cot"]
    assert main([*args, "--samples", "1", "--max-tokens", "64", *flags]) == 0
    return run


@pytest.mark.parametrize(
    "options",
    [
        "concurrency: 64",  # the spec's own key
        "options: {concurrency: 64}",  # the README's older recipe, as the issue ran it
    ],
)
def test_recipe_and_command_keep_the_same_requests_in_flight(
    server: CountingServer, questions: Path, tmp_path: Path, options: str
) -> None:
    backend = "{name: openai, model: stub, base_url: " + server.url + ", " + options + "}"
    server.reset()
    recipe_run = run_recipe(tmp_path, questions, backend)
    recipe_peak, recipe_served = server.peak, server.served

    server.reset()
    command_run = run_command(
        tmp_path, questions, "--backend", "openai", "-m", "stub", "--base-url", server.url,
        "-j", "64",
    )  # fmt: skip
    command_peak, command_served = server.peak, server.served

    assert (recipe_peak, command_peak) == (64, 64)
    assert recipe_served == command_served == QUESTIONS  # one cot attempt each, all correct
    for run in (recipe_run, command_run):
        assert len(list(read_jsonl(run.attempts))) == QUESTIONS
        engine = run.read_config()["engines"]["annotate"]
        assert engine["concurrency"] == 64
        assert engine["throughput"] == {"batch_size": 1, "concurrency": 64}
        assert run.read_config()["annotate"]["concurrency"] == 64


def test_both_paths_default_to_the_servers_own_throughput(
    server: CountingServer, questions: Path, tmp_path: Path
) -> None:
    server.reset()
    run_recipe(tmp_path, questions, "{name: openai, model: stub, base_url: " + server.url + "}")
    recipe_peak = server.peak
    server.reset()
    run_command(tmp_path, questions, "--backend", "openai", "-m", "stub", "--base-url", server.url)
    assert (recipe_peak, server.peak) == (16, 16)  # SERVER: 16 calls of one request in flight


def test_a_package_path_works_on_the_command_line(
    server: CountingServer, questions: Path, tmp_path: Path
) -> None:
    run = run_command(
        tmp_path, questions, "--backend", "openai", "-m", "stub", "--base-url", server.url,
        "--limit", "2", "--prompts", "sciinstruct:prompts/concise",
    )  # fmt: skip
    prompts = run.read_config()["annotate"]["prompts"]
    assert any("prompts/concise/cot.md" in str(source) for source in prompts.values())


def test_a_second_writer_is_refused_while_a_runner_holds_the_run(tmp_path: Path) -> None:
    import subprocess
    import sys

    from sciinstruct.errors import SciInstructError
    from sciinstruct.stage_runner import StageRunner

    run = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time\n"
         "from sciinstruct.stage_runner import StageRunner\n"
         "runner = StageRunner(sys.argv[1]).__enter__()\n"
         "print('held', flush=True)\n"
         "time.sleep(60)\n",
         str(run)],
        stdout=subprocess.PIPE, text=True, env={**__import__("os").environ},
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(SciInstructError, match=str(run)), StageRunner(run):
            pass
    finally:
        holder.kill()
        holder.wait()
    with StageRunner(run) as runner:  # its holder gone, the run is free again
        assert runner.run.root == run
