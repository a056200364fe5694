"""The model side of training: load the base model, choose LoRA or full, merge, write a card."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from sciinstruct import __version__
from sciinstruct.errors import InputError
from sciinstruct.log import logger
from sciinstruct.train.config import TrainConfig


def resolve_model(name: str | None) -> str:
    """`None` or `embedded` -> the dequantised embedded model directory; anything else as given."""
    if name in (None, "", "embedded"):
        from sciinstruct.embedded_model import hf_model_dir

        return str(hf_model_dir())
    return name


def on_gpu() -> bool:
    import torch

    return torch.cuda.is_available()


def uses_lora(cfg: TrainConfig) -> bool:
    """LoRA unless asked for full fine-tuning; `auto` means LoRA on CPU, full on a GPU."""
    return cfg.finetune == "lora" or (cfg.finetune == "auto" and not on_gpu())


def torch_dtype(precision: str) -> Any:
    import torch

    if precision == "auto":
        bf16 = on_gpu() and torch.cuda.is_bf16_supported()
        return torch.bfloat16 if bf16 else torch.float32
    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def load_tokenizer(model: str) -> Any:
    """The model's tokenizer; a model without a chat template cannot take chat data."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model)
    if not tokenizer.chat_template:
        raise InputError(
            "the tokenizer has no chat template; use an instruct/chat model or add one",
            file=model,
        )
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(model: str, precision: str = "auto") -> Any:
    """The base causal LM in the requested precision (torch's CPU threads fitted to the
    machine: `llm.threads`)."""
    import torch
    from transformers import AutoModelForCausalLM

    from sciinstruct.llm.threads import fit_torch_threads

    fit_torch_threads(torch)

    try:
        return AutoModelForCausalLM.from_pretrained(model, dtype=torch_dtype(precision))
    except OSError as exc:
        raise InputError(f"cannot load the model ({exc})", file=model) from exc


def lora_config(cfg: TrainConfig) -> Any | None:
    """A peft LoraConfig when LoRA is on, else None (full fine-tuning)."""
    if not uses_lora(cfg):
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=cfg.lora_target_modules,
        task_type="CAUSAL_LM",
    )


def merge_adapter(adapter_dir: str | Path, out_dir: str | Path) -> Path:
    """Fold a LoRA adapter into its base model and save a standalone model with the tokenizer."""
    from peft import AutoPeftModelForCausalLM
    from transformers import AutoTokenizer

    model = AutoPeftModelForCausalLM.from_pretrained(str(adapter_dir))
    merged = model.merge_and_unload()
    out_dir = Path(out_dir)
    merged.save_pretrained(out_dir)
    AutoTokenizer.from_pretrained(str(adapter_dir)).save_pretrained(out_dir)
    logger.info("merged adapter into a standalone model at %s", out_dir)
    return out_dir


def file_digest(path: str | Path) -> str:
    """sha256 of a file, so a card names exactly which data trained the model."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_model_card(
    directory: str | Path,
    *,
    kind: str,
    cfg: TrainConfig,
    base_model: str,
    data: dict[str, Any],
    metrics: dict[str, Any],
    lora: bool,
    merged: bool = False,
) -> Path:
    """README.md in Hugging Face model-card form: front matter, the data, the settings, results."""
    directory = Path(directory)
    front = {
        "base_model": base_model,
        "library_name": "peft" if lora and not merged else "transformers",
        "tags": ["sciinstruct", kind, "trl"] + (["lora"] if lora else []),
        "pipeline_tag": "text-generation",
    }
    method = (
        "LoRA" + (" (merged into the base weights)" if merged else " adapter") if lora else "full"
    )
    lines = [
        "---",
        yaml.safe_dump(front, sort_keys=False).rstrip(),
        "---",
        "",
        f"# {Path(cfg.out or directory).name}: {kind.upper()} of {Path(base_model).name}",
        "",
        f"Trained with sciinstruct {__version__} (`sciinstruct train {kind}`) on "
        f"{datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}; fine-tuning: {method}.",
        "",
        "## Data",
        "",
        "```json",
        json.dumps(data, indent=2, ensure_ascii=False, default=str),
        "```",
        "",
        "## Results",
        "",
        "```json",
        json.dumps(metrics, indent=2, default=str),
        "```",
        "",
        "## Settings",
        "",
        "```yaml",
        yaml.safe_dump(cfg.to_dict(), sort_keys=False).rstrip(),
        "```",
        "",
    ]
    path = directory / "README.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
