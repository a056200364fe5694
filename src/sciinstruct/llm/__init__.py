"""LLM backends behind one protocol, and the response cache in front of them.

    backend = make_backend("embedded")                        # SmolLM2-135M, in-process
    backend = make_backend("openai", base_url="http://127.0.0.1:8080/v1", concurrency=64)
    backend = CachedBackend(backend, run.cache)               # hits cost nothing
    spec = EngineSpec(name="openai", base_url=("http://127.0.0.1:8080/v1",), concurrency=64)
    backend = spec.open()                                     # the same, from one declared spec
    completions = backend.generate([GenerationRequest(messages, SamplingParams(seed=7))])

Engines import lazily: `import sciinstruct.llm` pulls in neither torch nor llama.cpp.
"""

from __future__ import annotations

from sciinstruct.llm.base import (
    AsyncBackend,
    Backend,
    Completion,
    GenerationRequest,
    SamplingParams,
    ServerBackend,
    SyncBackend,
    Throughput,
    cache_key,
)
from sciinstruct.llm.cache import CachedBackend, ResponseCache
from sciinstruct.llm.registry import BACKENDS, backend_class, embedded_engine, make_backend
from sciinstruct.llm.spec import EngineSpec

__all__ = [
    "AsyncBackend",
    "Backend",
    "BACKENDS",
    "CachedBackend",
    "Completion",
    "EngineSpec",
    "GenerationRequest",
    "ResponseCache",
    "SamplingParams",
    "ServerBackend",
    "SyncBackend",
    "Throughput",
    "backend_class",
    "cache_key",
    "embedded_engine",
    "make_backend",
]
