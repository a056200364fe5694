"""Local models are told apart in the response cache by path and weights, not folder name."""

from __future__ import annotations

import importlib.util
import shutil
import time
from pathlib import Path

import pytest

from sciinstruct.llm.identity import fingerprint, model_identity

needs_transformers = pytest.mark.skipif(
    importlib.util.find_spec("transformers") is None, reason="no transformers"
)
needs_llama = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None, reason="no llama-cpp-python"
)


def _save_tiny(path: Path, seed: int) -> Path:
    """A real (tiny, random) Llama checkpoint with the embedded model's tokenizer."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from sciinstruct.embedded_model import hf_model_dir

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=49152, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=1,
    )  # fmt: skip
    LlamaForCausalLM(config).save_pretrained(path)
    AutoTokenizer.from_pretrained(hf_model_dir()).save_pretrained(path)
    return path


def test_fingerprint_covers_path_and_weight_stats(tmp_path):
    a, b = tmp_path / "a" / "merged", tmp_path / "b" / "merged"
    for d in (a, b):
        d.mkdir(parents=True)
        (d / "config.json").write_text("{}")
        (d / "model.safetensors").write_bytes(b"x" * 10)
    (a / "README.md").write_text("notes")
    first = model_identity(a)
    assert first.startswith("merged@") and len(first) == len("merged@") + 8
    assert model_identity(a) == first  # unchanged: same identity
    (a / "README.md").write_text("other notes")  # not a weight file: no change
    assert model_identity(a) == first
    assert model_identity(b) != first  # same name and bytes, another folder
    (a / "model.safetensors").write_bytes(b"y" * 11)  # retrained in place
    assert model_identity(a) != first
    assert fingerprint(a / "model.safetensors") != fingerprint(a)
    assert model_identity(a / "model.safetensors").startswith("model@")


@pytest.mark.slow
@needs_transformers
def test_transformers_identity_changes_when_the_folder_is_saved_again(tmp_path):
    from sciinstruct.embedded_model import EMBEDDED_MODEL_NAME, hf_model_dir
    from sciinstruct.llm import make_backend
    from sciinstruct.llm.transformers_engine import transformers_identity

    merged = _save_tiny(tmp_path / "run1" / "merged", seed=0)
    backend = make_backend("transformers", model=str(merged))
    first = backend.model
    assert first.startswith("merged@") and first == transformers_identity(merged)
    assert backend.generate([])[:1] == []
    other = _save_tiny(tmp_path / "run2" / "merged", seed=0)
    assert transformers_identity(other) != first
    time.sleep(0.05)  # past the filesystem's timestamp granularity, so the save is visible
    _save_tiny(merged, seed=1)  # retrained into the same folder
    assert transformers_identity(merged) != first
    assert transformers_identity(hf_model_dir()) == EMBEDDED_MODEL_NAME


@needs_llama
def test_llamacpp_identity_of_a_user_gguf(tmp_path):
    from sciinstruct.embedded_model import gguf_path
    from sciinstruct.llm.llamacpp import llamacpp_identity

    assert llamacpp_identity(gguf_path()) == "SmolLM2-135M-Instruct.Q4_1"
    copy = tmp_path / "SmolLM2-135M-Instruct.Q4_1.gguf"  # same name, not the embedded file
    shutil.copyfile(gguf_path(), copy)
    first = llamacpp_identity(copy)
    assert first.startswith("SmolLM2-135M-Instruct.Q4_1@") and first == llamacpp_identity(copy)
    time.sleep(0.05)  # past the filesystem's timestamp granularity
    shutil.copyfile(gguf_path(), copy)  # re-exported to the same path
    assert llamacpp_identity(copy) != first
