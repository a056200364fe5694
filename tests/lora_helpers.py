"""A tiny PEFT LoRA on the embedded model, for the tests of running a tuned model on llama.cpp."""

from __future__ import annotations

from pathlib import Path

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def random_lora(out: Path, *, r: int = 4, alpha: int = 8, std: float = 0.05, seed: int = 0) -> Path:
    """Save a rank-`r` LoRA on every projection of the dequantised embedded model to `out`,
    A and B drawn at random (PEFT's own init zeroes B: an adapter that changes nothing)."""
    import peft
    import torch
    from transformers import AutoModelForCausalLM

    from sciinstruct.embedded_model import hf_model_dir

    model = AutoModelForCausalLM.from_pretrained(hf_model_dir(), dtype=torch.float32)
    config = peft.LoraConfig(r=r, lora_alpha=alpha, lora_dropout=0.0, target_modules=TARGETS)
    tuned = peft.get_peft_model(model, config)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in tuned.named_parameters():
            if "lora_" in name:
                param.copy_(torch.randn(param.shape, generator=gen) * std)
    tuned.save_pretrained(out)
    return out
