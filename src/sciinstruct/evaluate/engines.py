"""The engines the base and the tuned model are evaluated on: one engine for both, so the
paired test compares models, not engines.

On `transformers` (and any engine that loads a model directory) each model is its own
directory: the base model's, and the tuned one with its LoRA merged in. On llama.cpp (eval
backend `llamacpp`, or `embedded` where llama.cpp is installed) both run on the engine's GGUF
file and the same weights type, the tuned model as that file plus the trained LoRA adapter
(`lora` option, converted to a GGUF LoRA by `llm.lora_gguf`): the batched engine's speed for
both, and the only difference between the two runs is the adapter.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from sciinstruct.errors import InputError
from sciinstruct.llm import EngineSpec


def runs_on_llamacpp(engine: EngineSpec) -> bool:
    """Whether `engine` is the llama.cpp engine (by name, or `embedded` resolving to it)."""
    return getattr(engine.backend_class(), "name", None) == "llamacpp"


def model_engines(
    backend: EngineSpec, base_model: str | Path, tuned: Path | None, adapter: Path
) -> dict[str, EngineSpec]:
    """`base` (and `tuned` where a trained model exists) -> the engine that evaluates it.

    `base_model` is the model training started from, `tuned` the trained model directory
    (LoRA merged in), `adapter` the trained LoRA adapter directory (used on llama.cpp)."""
    if not runs_on_llamacpp(backend):
        out = {"base": dataclasses.replace(backend, model=str(base_model))}
        if tuned is not None:
            out["tuned"] = dataclasses.replace(backend, model=str(tuned))
        return out
    if backend.model is None:
        from sciinstruct.embedded_model import hf_model_path

        if Path(base_model).resolve() != hf_model_path().resolve():
            raise InputError(
                f"eval.backend runs the embedded GGUF, but train.model is {base_model}: set "
                "eval.backend.model to a GGUF file of that model, or eval.backend: transformers",
                field="eval.backend",
            )
    out = {"base": backend}
    if tuned is not None:
        if not (adapter / "adapter_config.json").is_file():
            raise InputError(
                "eval on llama.cpp runs the tuned model as its base GGUF plus the LoRA adapter, "
                "and training saved no adapter (full fine-tuning?): train with finetune: lora, "
                "or set eval.backend: transformers",
                file=str(adapter),
                field="eval.backend",
            )
        options = {**backend.options, "lora": str(adapter)}
        out["tuned"] = dataclasses.replace(backend, options=options)
    return out
