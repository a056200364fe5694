"""The backends by name: which class a name stands for, and building one with its options."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
from typing import Any

from sciinstruct.errors import InputError, did_you_mean
from sciinstruct.llm.base import Backend

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


def backend_class(name: str, engine: str | None = None) -> type:
    """The class a backend name stands for (`embedded`: the `engine` it runs on, else
    `embedded_engine()`); it says whether it is a server and how hard to drive it
    (`is_server`, `throughput`). An unknown name is an InputError with a "did you mean"."""
    if name not in BACKENDS:
        hint = did_you_mean(name, BACKENDS)
        hint = f"; {hint}" if hint else ""
        valid = ", ".join(BACKENDS)
        raise InputError(f"unknown backend '{name}'{hint} (valid: {valid})", field="backend")
    if name == "embedded":
        engine = engine or embedded_engine()
        if engine not in ("llamacpp", "transformers"):
            raise InputError(
                f"unknown embedded engine '{engine}' (valid: llamacpp, transformers)",
                field="engine",
            )
        return backend_class(engine)
    module_name, class_name = BACKENDS[name]
    return getattr(importlib.import_module(module_name), class_name)


def make_backend(name: str = "embedded", model: str | None = None, **options: Any) -> Backend:
    """Build a backend by name: `embedded` (default), `openai`, `transformers`, `vllm`, or
    `llamacpp`. `options` go to the backend's constructor; an unknown one is an InputError
    that lists the accepted ones."""
    engine = options.pop("engine", None) if name == "embedded" else None
    cls = backend_class(name, engine)
    parameters = inspect.signature(cls).parameters
    accepted = [p for p in parameters if p != "model"]
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    unknown = sorted(set(options) - set(accepted))
    if unknown and not takes_any:
        raise InputError(
            f"backend '{name}' does not take option(s) {', '.join(unknown)} "
            f"(accepted: {', '.join(accepted)})",
            field="backend options",
        )
    return cls(model, **options)
