"""Tiny training files in the export format and checks shared by the tests/test_train_*.py files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SYSTEM = {"role": "system", "content": "Solve the problem. End with the answer in \\boxed{}."}


def write_rows(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def sft_rows(n: int = 6) -> list[dict[str, Any]]:
    """sft.jsonl rows: short arithmetic with a boxed answer."""
    return [
        {
            "messages": [
                SYSTEM,
                {"role": "user", "content": f"What is {i} + {i + 3}?"},
                {
                    "role": "assistant",
                    "content": f"{i} + {i + 3} = {2 * i + 3}. \\boxed{{{2 * i + 3}}}",
                },
            ],
            "question_id": f"q{i}",
            "subject": "math",
            "stage": "cot",
            "weight": 1.0,
        }
        for i in range(n)
    ]


def dpo_rows(n: int = 4) -> list[dict[str, Any]]:
    """dpo.jsonl rows: a right and a wrong boxed answer to the same question."""
    return [
        {
            "prompt": [{"role": "user", "content": f"What is {i} times 3?"}],
            "chosen": [{"role": "assistant", "content": f"{i} x 3 = {3 * i}. \\boxed{{{3 * i}}}"}],
            "rejected": [
                {"role": "assistant", "content": f"{i} x 3 = {3 * i + 1}. \\boxed{{{3 * i + 1}}}"}
            ],
            "question_id": f"q{i}",
        }
        for i in range(n)
    ]


def grpo_rows(n: int = 4) -> list[dict[str, Any]]:
    """grpo.jsonl rows: questions with numeric references."""
    return [
        {
            "prompt": [{"role": "user", "content": f"What is {i} + {i}? Answer in \\boxed{{}}."}],
            "answer": str(2 * i),
            "answer_type": "numeric",
            "unit": None,
            "question_id": f"q{i}",
            "subject": "math",
        }
        for i in range(n)
    ]


def lora_b_norms(adapter_dir: Path) -> dict[str, float]:
    """|B| of every LoRA B matrix in a saved adapter (peft initialises B to zeros)."""
    from safetensors.torch import load_file

    weights = load_file(str(adapter_dir / "adapter_model.safetensors"))
    return {k: float(v.abs().sum()) for k, v in weights.items() if "lora_B" in k}


def losses(history: list[dict[str, Any]]) -> list[float]:
    return [entry["loss"] for entry in history if "loss" in entry]


def _load(model_dir: Path, prompt: str):  # type: ignore[no-untyped-def]
    """A saved model (an adapter loads on its base), its tokenizer, and `prompt` as chat input."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    inputs = tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    return model, tokenizer, inputs


def _last_logits(model_dir: Path, prompt: str):  # type: ignore[no-untyped-def]
    import torch

    model, _, inputs = _load(model_dir, prompt)
    with torch.no_grad():
        return model(**inputs).logits[0, -1]


def logit_shift(model_dir: Path, prompt: str = "What is 2 + 2?") -> float:
    """How far training moved the model: the largest change of a next-token logit after
    `prompt`, trained model (a merged model, or an adapter loaded on its base) against the base.
    0.0 means training changed nothing the model computes."""
    from sciinstruct.embedded_model import hf_model_dir

    trained, base = _last_logits(model_dir, prompt), _last_logits(hf_model_dir(), prompt)
    return float((trained - base).abs().max())


def generate_text(model_dir: Path, prompt: str = "What is 2 + 2?") -> str:
    """Load a saved model with plain transformers and greedily generate 8 tokens."""
    model, tokenizer, inputs = _load(model_dir, prompt)
    output = model.generate(**inputs, max_new_tokens=8, do_sample=False)
    new = output[0, inputs["input_ids"].shape[1] :]
    assert len(new) > 0
    return tokenizer.decode(new, skip_special_tokens=True)
