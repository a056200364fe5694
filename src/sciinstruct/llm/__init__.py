"""LLM backends behind one protocol, and the response cache in front of them.

    backend = make_backend("embedded")                        # SmolLM2-135M, in-process
    backend = make_backend("openai", base_url="http://127.0.0.1:8080/v1", concurrency=64)
    backend = CachedBackend(backend, run.cache)               # hits cost nothing
    completions = backend.generate([GenerationRequest(messages, SamplingParams(seed=7))])

Engines import lazily: `import sciinstruct.llm` pulls in neither torch nor llama.cpp.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
from typing import Any

from sciinstruct.errors import InputError, did_you_mean
from sciinstruct.llm.base import (
    AsyncBackend,
    Backend,
    Completion,
    GenerationRequest,
    SamplingParams,
    SyncBackend,
    cache_key,
)
from sciinstruct.llm.cache import CachedBackend, ResponseCache

__all__ = [
    "AsyncBackend",
    "Backend",
    "BACKENDS",
    "CachedBackend",
    "Completion",
    "GenerationRequest",
    "ResponseCache",
    "SamplingParams",
    "SyncBackend",
    "cache_key",
    "embedded_engine",
    "make_backend",
]

# backend name -> (module, class); `embedded` picks an engine, see `embedded_engine`
BACKENDS: dict[str, tuple[str, str]] = {
    "embedded": ("", ""),
    "openai": ("sciinstruct.llm.openai_compat", "OpenAIBackend"),
    "transformers": ("sciinstruct.llm.transformers_engine", "TransformersBackend"),
    "vllm": ("sciinstruct.llm.vllm_engine", "VLLMBackend"),
    "llamacpp": ("sciinstruct.llm.llamacpp", "LlamaCppBackend"),
}


def embedded_engine() -> str:
    """The engine the embedded model runs on: llama.cpp when installed, else transformers.

    bench/bench_engines.py: llama.cpp in-process reads 98 MB of Q4_1 weights per token against
    transformers' 538 MB of float32, matched transformers' best batch (16) without batching, and
    loads in 0.3 s instead of ~4 s. See bench/results/engines.md.
    """
    return "llamacpp" if importlib.util.find_spec("llama_cpp") is not None else "transformers"


def make_backend(name: str = "embedded", model: str | None = None, **options: Any) -> Backend:
    """Build a backend by name: `embedded` (default), `openai`, `transformers`, `vllm`, or
    `llamacpp`. `options` go to the backend's constructor; an unknown one is an InputError
    that lists the accepted ones."""
    if name not in BACKENDS:
        hint = did_you_mean(name, BACKENDS)
        hint = f"; {hint}" if hint else ""
        valid = ", ".join(BACKENDS)
        raise InputError(f"unknown backend '{name}'{hint} (valid: {valid})", field="backend")
    if name == "embedded":
        engine = options.pop("engine", None) or embedded_engine()
        if engine not in ("llamacpp", "transformers"):
            raise InputError(
                f"unknown embedded engine '{engine}' (valid: llamacpp, transformers)",
                field="engine",
            )
        return make_backend(engine, model, **options)
    module_name, class_name = BACKENDS[name]
    cls = getattr(importlib.import_module(module_name), class_name)
    accepted = [p for p in inspect.signature(cls).parameters if p != "model"]
    takes_any = any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in inspect.signature(cls).parameters.values()
    )
    unknown = sorted(set(options) - set(accepted))
    if unknown and not takes_any:
        raise InputError(
            f"backend '{name}' does not take option(s) {', '.join(unknown)} "
            f"(accepted: {', '.join(accepted)})",
            field="backend options",
        )
    return cls(model, **options)
