"""`llamacpp` engine: a GGUF model in-process with llama-cpp-python (the embedded default).

The chat template is the one stored in the GGUF file. One `Llama` context serves one request at a
time (it is not thread-safe), so a batch runs in order under a lock; consecutive requests that
share a prompt (k samples of one question) reuse its evaluated prefix from the KV cache.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from sciinstruct.embedded_model import EMBEDDED_MODEL_NAME, GGUF_FILENAME, gguf_path
from sciinstruct.errors import InputError, require
from sciinstruct.llm.base import Completion, GenerationRequest, SyncBackend

INSTALL = 'pip install "sciinstruct[llamacpp]"'


def default_threads(processes: int = 1) -> int:
    """Threads per llama.cpp process: half the logical cores (llama.cpp's own rule: physical
    cores on SMT machines), shared among `processes`. More threads than free cores is far worse
    than fewer: each decoding step waits for its slowest thread. bench/bench_engines.py measured
    1 thread at 7x the tokens/s of 2 threads on a busy 2-core machine."""
    return max(1, (os.cpu_count() or 2) // 2 // processes)


class LlamaCppBackend(SyncBackend):
    """llama.cpp in-process. `model` is a GGUF path; None means the embedded SmolLM2 file."""

    name = "llamacpp"

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        n_batch: int = 512,
    ) -> None:
        llama_cpp = require("llama_cpp", "llama-cpp-python", INSTALL)
        path = Path(model) if model else gguf_path()
        if not path.is_file():
            raise InputError("GGUF model file not found", file=str(path), field="model")
        # The model is identified by its file name (quantisation included) in the cache.
        self.model = f"{EMBEDDED_MODEL_NAME}.Q4_1" if path.name == GGUF_FILENAME else path.stem
        self._llm = llama_cpp.Llama(
            model_path=str(path),
            n_ctx=n_ctx,
            n_batch=n_batch,
            n_threads=n_threads or default_threads(),
            verbose=False,
        )
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"LlamaCppBackend(model={self.model!r})"

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]:
        with self._lock:
            return [self._complete(r) for r in requests]

    def _complete(self, request: GenerationRequest) -> Completion:
        p = request.params
        start = time.perf_counter()
        try:
            out = self._llm.create_chat_completion(
                messages=request.messages_list(),
                temperature=p.temperature,
                top_p=p.top_p,
                max_tokens=p.max_tokens,
                seed=p.seed,
                stop=list(p.stop) or None,
            )
        except (ValueError, RuntimeError) as exc:  # e.g. the prompt does not fit the context
            return Completion(error=f"llama.cpp: {exc}", latency_s=time.perf_counter() - start)
        choice, usage = out["choices"][0], out.get("usage") or {}
        return Completion(
            text=choice["message"].get("content") or "",
            finish_reason=choice.get("finish_reason"),
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            latency_s=time.perf_counter() - start,
        )

    def close(self) -> None:
        llm, self._llm = getattr(self, "_llm", None), None
        if llm is not None:
            llm.close()
