"""Shared fixtures: real LLM engines, started once per test session.

- `llama_server_url`: llama.cpp's OpenAI-compatible server with the embedded model on 127.0.0.1
  (a free port), yielding its base URL (`http://127.0.0.1:PORT/v1`) for the `openai` backend.
- `embedded_backend`: the embedded model in-process (llama.cpp, or transformers without it).
Both skip with the reason when the engine is not installed.
The one scripted fake backend, for what a real model cannot do on demand (be right on chosen
questions, fail, be slow), is `scripted.ScriptedBackend` (tests/scripted.py).
- `make_run`: a run directory under tmp_path holding the given questions, attempts and critiques.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest

from sciinstruct.jsonl import write_jsonl
from sciinstruct.llm.base import Backend
from sciinstruct.rundir import RunDir

_NO_LLAMA = "llama-cpp-python is not installed (pip install 'sciinstruct[llamacpp]')"


def _have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


@pytest.fixture(scope="session")
def llama_server_url() -> Iterator[str]:
    if not _have("llama_cpp"):
        pytest.skip(_NO_LLAMA)
    from sciinstruct.llm.serve import start_server

    with start_server() as server:
        yield server.base_url


@pytest.fixture(scope="session")
def embedded_backend() -> Iterator[Backend]:
    if not (_have("llama_cpp") or _have("transformers")):
        pytest.skip("neither llama-cpp-python nor transformers is installed")
    from sciinstruct.llm import make_backend

    backend = make_backend("embedded")
    yield backend
    backend.close()


@pytest.fixture
def make_run(tmp_path: Path):  # type: ignore[no-untyped-def]
    """`make_run(questions, attempts, critiques=(), name="run")` -> a RunDir holding them."""

    def make(questions, attempts, critiques=(), name: str = "run") -> RunDir:  # type: ignore[no-untyped-def]
        run = RunDir(tmp_path / name).ensure()
        write_jsonl(run.questions, questions)
        write_jsonl(run.attempts, attempts)
        if critiques:
            write_jsonl(run.critiques, critiques)
        return run

    return make
