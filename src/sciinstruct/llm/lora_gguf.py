"""Convert a PEFT LoRA adapter directory into a GGUF LoRA adapter that llama.cpp can load.

llama.cpp applies a LoRA adapter at run time (`llama_adapter_lora_init`), so the tuned model
runs on the same engine and the same base weights as the base model. The file format follows
llama.cpp's own `convert_lora_to_gguf.py`: one `lora_a` (r x in) and one `lora_b` (out x r)
tensor per adapted weight, named after the base tensor, plus `adapter.lora.alpha`; llama.cpp
scales by alpha / r itself.

One subtlety: llama.cpp's HF converter permutes the rows of q_proj and k_proj for its rotary
layout (and transformers un-permutes them when it loads a GGUF), so the adapter's `lora_b` of
q and k must get the same row permutation; `lora_a` acts on the input side and does not.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from sciinstruct.errors import InputError

# PEFT module name -> llama.cpp tensor name inside `blk.{i}.`
_TENSOR_NAMES = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
_ARCHITECTURES = {"llama"}
QK8_0 = 32  # values per Q8_0 block
# Bumped when the file written for one adapter changes, so older conversions are not reused
FORMAT = b"q8_0-padded"


def _permute_rows(weights: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's `LlamaModel.permute`: interleaved rotary halves -> its split layout."""
    rows = weights.shape[0]
    return (
        weights.reshape(n_head, 2, rows // n_head // 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )


def _read_config(adapter_dir: Path, base_config: Path | dict | None) -> tuple[dict, dict]:
    adapter_cfg_path = adapter_dir / "adapter_config.json"
    if not adapter_cfg_path.is_file():
        raise InputError(
            "not a PEFT adapter directory (no adapter_config.json)", file=str(adapter_dir)
        )
    adapter_cfg = json.loads(adapter_cfg_path.read_text())
    if isinstance(base_config, dict):
        return adapter_cfg, base_config
    if base_config is None:
        base = adapter_cfg.get("base_model_name_or_path") or ""
        base_config = Path(base) / "config.json"
    if not base_config.is_file():
        raise InputError(
            "base model config.json not found; pass base_config= (the HF model dir's config.json)",
            file=str(base_config),
        )
    return adapter_cfg, json.loads(base_config.read_text())


def _check(adapter_cfg: dict, base_cfg: dict, adapter_dir: Path) -> None:
    """Refuse what llama.cpp's LoRA cannot express, each with a one-line reason."""
    arch = base_cfg.get("model_type")
    if arch not in _ARCHITECTURES:
        raise InputError(
            f"cannot convert a LoRA for architecture {arch!r}; only llama", file=str(adapter_dir)
        )
    if adapter_cfg.get("peft_type", "LORA") != "LORA":
        raise InputError(
            f"only LoRA adapters convert, not {adapter_cfg.get('peft_type')}", file=str(adapter_dir)
        )
    if adapter_cfg.get("use_dora"):
        raise InputError(
            "DoRA adapters cannot be converted to GGUF; train with use_dora=False",
            file=str(adapter_dir),
        )
    if adapter_cfg.get("modules_to_save"):
        raise InputError(
            "modules_to_save (fully trained modules) cannot go in a GGUF LoRA; merge the adapter instead",
            file=str(adapter_dir),
        )
    if adapter_cfg.get("rank_pattern") or adapter_cfg.get("alpha_pattern"):
        raise InputError(
            "per-module rank/alpha patterns are not supported; use one r and lora_alpha",
            file=str(adapter_dir),
        )
    if adapter_cfg.get("use_rslora"):
        raise InputError(
            "rsLoRA scaling (alpha/sqrt(r)) is not supported; train with use_rslora=False",
            file=str(adapter_dir),
        )


def _load_tensors(adapter_dir: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    path = adapter_dir / "adapter_model.safetensors"
    if not path.is_file():
        raise InputError(
            "adapter_model.safetensors not found (save the adapter with safetensors)",
            file=str(adapter_dir),
        )
    try:
        return load_file(str(path))
    except (TypeError, ValueError):  # bf16 has no numpy dtype: go through torch
        import torch
        from safetensors.torch import load_file as load_torch

        return {k: v.to(torch.float32).numpy() for k, v in load_torch(str(path)).items()}


def _gguf_tensors(tensors: dict[str, np.ndarray], base_cfg: dict) -> dict[str, np.ndarray]:
    n_head = int(base_cfg["num_attention_heads"])
    n_kv = int(base_cfg.get("num_key_value_heads") or n_head)
    out: dict[str, np.ndarray] = {}
    for name, value in tensors.items():
        # base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight
        parts = name.split(".")
        if "layers" not in parts or parts[-1] != "weight" or parts[-2] not in ("lora_A", "lora_B"):
            raise InputError(
                f"cannot map adapter tensor {name!r} to llama.cpp (only layer projections)"
            )
        i = parts[parts.index("layers") + 1]
        module = ".".join(parts[parts.index("layers") + 2 : -2])
        if module not in _TENSOR_NAMES:
            raise InputError(
                f"cannot map adapter module {module!r} to llama.cpp; target {sorted(_TENSOR_NAMES)}"
            )
        data = np.ascontiguousarray(value, dtype=np.float32)
        if parts[-2] == "lora_B" and module == "self_attn.q_proj":
            data = _permute_rows(data, n_head)
        elif parts[-2] == "lora_B" and module == "self_attn.k_proj":
            data = _permute_rows(data, n_kv)
        if parts[-2] == "lora_A":  # (r, in): zero rows up to the padded rank
            data = np.pad(data, ((0, _padded(data.shape[0]) - data.shape[0]), (0, 0)))
        else:  # (out, r): zero columns
            data = np.pad(data, ((0, 0), (0, _padded(data.shape[1]) - data.shape[1])))
        suffix = "lora_a" if parts[-2] == "lora_A" else "lora_b"
        out[f"blk.{i}.{_TENSOR_NAMES[module]}.weight.{suffix}"] = np.ascontiguousarray(data)
    return out


def _padded(rank: int) -> int:
    """The rank rounded up to a Q8_0 block (32): see `convert`."""
    return -(-rank // QK8_0) * QK8_0


def convert(
    adapter_dir: str | Path, out: str | Path, *, base_config: str | Path | dict | None = None
) -> Path:
    """Write the GGUF LoRA of the PEFT adapter in `adapter_dir` to `out` (atomic rename).

    The factors are stored as Q8_0, the rank padded with zeros to a multiple of 32 (a Q8_0
    block; alpha scaled to match, as llama.cpp divides by the stored rank): llama.cpp's F32
    (and F16) products take another kernel for one row than for several (llamafile's sgemm),
    so an F32 adapter made a sequence's text depend on how many others shared its decoding
    step (1 of 4 greedy texts differed); Q8_0 rows are summed alike at any row count, as the
    batched engine's determinism needs (see `llamacpp_batch`). Q8_0 rounds A and B by ~0.4%.

    `base_config` is the base model's config.json, or its fields as a dict (`gguf_config`);
    None: the config.json in the adapter's `base_model_name_or_path`."""
    import gguf

    adapter_dir = Path(adapter_dir)
    if isinstance(base_config, str):
        base_config = Path(base_config)
    adapter_cfg, base_cfg = _read_config(adapter_dir, base_config)
    _check(adapter_cfg, base_cfg, adapter_dir)
    tensors = _gguf_tensors(_load_tensors(adapter_dir), base_cfg)
    out = Path(out)
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    writer = gguf.GGUFWriter(str(tmp), base_cfg["model_type"])
    writer.add_string("general.type", "adapter")
    writer.add_string("adapter.type", "lora")
    rank = int(adapter_cfg["r"])
    alpha = float(adapter_cfg["lora_alpha"]) * _padded(rank) / rank
    writer.add_float32("adapter.lora.alpha", alpha)
    q8 = gguf.GGMLQuantizationType.Q8_0
    for name in sorted(tensors):
        writer.add_tensor(name, gguf.quants.quantize(tensors[name], q8), raw_dtype=q8)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(tmp, out)
    return out


def gguf_adapter(path: str | Path, *, base_config: str | Path | dict | None = None) -> Path:
    """A GGUF LoRA for `path`: a .gguf file as is, or a PEFT dir converted once and cached.

    The cache sits next to the adapter, keyed by a hash of its weights and config, so a
    retrained adapter in the same directory is converted again.
    """
    path = Path(path)
    if path.is_file() and path.suffix == ".gguf":
        return path
    if not path.is_dir():
        raise InputError(
            "lora must be a PEFT adapter directory or a .gguf file", file=str(path), field="lora"
        )
    cached = _cached(path)
    if not cached.is_file():
        convert(path, cached, base_config=base_config)
    return cached


def _cached(adapter_dir: Path) -> Path:
    """Where the conversion of the PEFT adapter in `adapter_dir` is kept: named by a hash of
    its weights and config."""
    digest = hashlib.sha256(FORMAT)
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        if (adapter_dir / name).is_file():
            digest.update((adapter_dir / name).read_bytes())
    return adapter_dir / f"adapter.{digest.hexdigest()[:16]}.gguf"


def _gguf_fields(path: Path) -> dict[str, Any]:
    """A GGUF file's metadata fields, name -> value (the header only; tensors stay mapped)."""
    import gguf

    try:
        reader = gguf.GGUFReader(str(path))
    except (ValueError, OSError) as exc:
        raise InputError(f"not a readable GGUF file ({exc})", file=str(path), field="lora") from exc
    return {
        name: f.contents() for name, f in reader.fields.items() if not name.startswith("tokenizer.")
    }


def gguf_config(model: str | Path) -> dict[str, Any]:
    """What `convert` needs of the base model, read from its GGUF file: the very model the
    adapter is applied to, so no HF config.json (nor `base_model_name_or_path`) is needed."""
    fields = _gguf_fields(Path(model))
    arch = fields.get("general.architecture")
    n_head = fields.get(f"{arch}.attention.head_count")
    return {
        "model_type": arch,
        "num_attention_heads": n_head,
        "num_key_value_heads": fields.get(f"{arch}.attention.head_count_kv") or n_head,
    }


def lora_file(lora: str | Path, model: str | Path) -> Path:
    """The GGUF LoRA to apply to the GGUF `model`: `lora` as given (a .gguf LoRA) or converted
    from a PEFT adapter directory with `model`'s own head counts; a GGUF that is not a LoRA
    adapter (e.g. a base model) is refused here, in one line."""
    path = Path(lora)
    if path.is_dir():
        cached = _cached(path)  # reading the model's header takes seconds (its vocabulary)
        return cached if cached.is_file() else gguf_adapter(path, base_config=gguf_config(model))
    if not path.is_file() or path.suffix != ".gguf":
        raise InputError(
            "lora must be a PEFT adapter directory or a .gguf LoRA file", file=str(path),
            field="lora",
        )  # fmt: skip
    kinds = _gguf_fields(path)
    if kinds.get("general.type") != "adapter" or kinds.get("adapter.type") != "lora":
        raise InputError(
            f"not a LoRA adapter (general.type={kinds.get('general.type')!r}, adapter.type="
            f"{kinds.get('adapter.type')!r}); give the PEFT adapter directory or its GGUF LoRA",
            file=str(path), field="lora",
        )  # fmt: skip
    return path


def lora_digest(path: Path) -> str:
    """16 hex digits of the GGUF LoRA's bytes: the adapter's part of the engine's identity,
    so a tuned model's completions are never served from the base model's cache (nor from
    another adapter's)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def attach(llm: Any, ctx: Any, path: Path, scale: float = 1.0) -> None:
    """Apply the GGUF LoRA at `path` to the llama.cpp context `ctx` of `llm`'s model.

    The adapter is loaded once per model (kept on `llm`; llama.cpp frees it with the model)
    and shared by every context of it. Loading it ourselves rather than through
    `Llama(lora_path=...)` keeps the base weights memory-mapped (llama-cpp-python turns mmap
    off for a lora_path), so parallel contexts still share one copy."""
    import ctypes

    import llama_cpp

    adapters = llm.__dict__.setdefault("_sciinstruct_lora", {})
    adapter = adapters.get(str(path))
    if adapter is None:
        adapter = llama_cpp.llama_adapter_lora_init(llm._model.model, str(path).encode("utf-8"))
        if not adapter:
            raise InputError(
                "llama.cpp could not load the LoRA adapter: its architecture or tensor shapes "
                "do not match the model (was it trained on another base model?)",
                file=str(path), field="lora",
            )  # fmt: skip
        adapters[str(path)] = adapter
    one = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(adapter)
    scales = (ctypes.c_float * 1)(scale)
    if llama_cpp.llama_set_adapters_lora(ctx, one, 1, scales) != 0:
        raise InputError("llama.cpp could not apply the LoRA adapter", file=str(path), field="lora")
