"""The GGUF LoRA that `lora_gguf` writes changes llama.cpp's logits as PEFT changes transformers'."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sciinstruct.errors import InputError
from sciinstruct.llm import lora_gguf

pytest.importorskip("llama_cpp")
torch = pytest.importorskip("torch")
peft = pytest.importorskip("peft")

PROMPT = "The boiling point of water at sea level is"


@pytest.fixture(scope="module")
def adapter(tmp_path_factory):
    """A rank-4 LoRA on every projection with random, non-zero A and B (PEFT zeroes B)."""
    from lora_helpers import random_lora
    from sciinstruct.embedded_model import hf_model_dir

    return random_lora(tmp_path_factory.mktemp("lora") / "adapter"), hf_model_dir()


def _hf_logits(base_dir, adapter_dir, tokens):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    if adapter_dir is not None:
        model = peft.PeftModel.from_pretrained(model, adapter_dir)
    with torch.no_grad():
        return model(torch.tensor([tokens])).logits[0].numpy()


def _llama_logits(lora, tokens):
    import llama_cpp

    from sciinstruct.embedded_model import gguf_path

    llm = llama_cpp.Llama(
        model_path=str(gguf_path()), lora_path=str(lora) if lora else None, n_ctx=128,
        logits_all=True, n_threads=1, verbose=False,
    )  # fmt: skip
    try:
        llm.eval(tokens)
        return np.array(llm.scores[: len(tokens)])
    finally:
        llm.close()


def test_gguf_lora_matches_peft(adapter) -> None:
    adapter_dir, base_dir = adapter
    gguf_file = lora_gguf.gguf_adapter(adapter_dir, base_config=base_dir / "config.json")
    assert gguf_file.parent == adapter_dir and gguf_file.suffix == ".gguf"
    assert lora_gguf.gguf_adapter(adapter_dir, base_config=base_dir / "config.json") == gguf_file
    from transformers import AutoTokenizer

    tokens = AutoTokenizer.from_pretrained(base_dir)(PROMPT)["input_ids"]
    hf_base, hf_tuned = (
        _hf_logits(base_dir, None, tokens),
        _hf_logits(base_dir, adapter_dir, tokens),
    )
    lc_base, lc_tuned = _llama_logits(None, tokens), _llama_logits(gguf_file, tokens)
    # The base weights are Q4_1 in llama.cpp and their dequantised floats in torch, so compare
    # what the adapter changes (tuned - base) in each engine: quantisation noise mostly cancels.
    hf_delta, lc_delta = hf_tuned - hf_base, lc_tuned - lc_base
    scale = np.abs(hf_delta).mean()
    assert scale > 0.5  # the adapter really moves the logits
    rel_err = np.abs(lc_delta - hf_delta).mean() / scale
    # Measured: 0.129 with the q/k permutation, 0.207 without it (and ~1 for a wrong alpha/r);
    # the floor is the Q4_1 base itself (base-vs-base logits differ by 0.24 on average) and the
    # adapter's Q8_0 factors (0.106 with F32 ones, which the batched engine cannot use: see
    # lora_gguf.convert; Q8_0 against F32 tuned logits differ by 0.083 of the change).
    assert rel_err < 0.16, rel_err
    # and the tuned greedy next tokens agree (all 9 with the permutation, 8 of 9 without)
    assert (lc_tuned.argmax(-1) == hf_tuned.argmax(-1)).all()


def test_refuses_dora(adapter, tmp_path) -> None:
    adapter_dir, base_dir = adapter
    bad = tmp_path / "dora"
    bad.mkdir()
    cfg = json.loads((adapter_dir / "adapter_config.json").read_text())
    cfg["use_dora"] = True
    (bad / "adapter_config.json").write_text(json.dumps(cfg))
    (bad / "adapter_model.safetensors").write_bytes(
        (adapter_dir / "adapter_model.safetensors").read_bytes()
    )
    with pytest.raises(InputError, match="DoRA"):
        lora_gguf.convert(bad, tmp_path / "x.gguf", base_config=base_dir / "config.json")


def test_refuses_other_architecture(adapter, tmp_path) -> None:
    adapter_dir, _ = adapter
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"model_type": "gpt2", "num_attention_heads": 12}))
    with pytest.raises(InputError, match="architecture 'gpt2'"):
        lora_gguf.convert(adapter_dir, tmp_path / "x.gguf", base_config=cfg)


def test_refuses_non_adapter(tmp_path) -> None:
    with pytest.raises(InputError, match="PEFT adapter directory or a .gguf"):
        lora_gguf.gguf_adapter(tmp_path / "missing")
