"""Shared fixtures: real LLM engines, started once per test session.

- `llama_server_url`: llama.cpp's OpenAI-compatible server with the embedded model on 127.0.0.1
  (a free port), yielding its base URL (`http://127.0.0.1:PORT/v1`) for the `openai` backend.
- `embedded_backend`: the embedded model in-process (llama.cpp, or transformers without it).
Both skip with the reason when the engine is not installed.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import pytest

from sciinstruct.llm.base import Backend

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
