"""The eval stage on llama.cpp: the base model is the engine's GGUF, the tuned model the same
GGUF plus the trained LoRA adapter, so the paired test compares models on one engine."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from sciinstruct.errors import InputError
from sciinstruct.evaluate.engines import model_engines, runs_on_llamacpp
from sciinstruct.flow import Flow
from sciinstruct.llm import EngineSpec
from sciinstruct.recipe import load_recipe

pytest.importorskip("llama_cpp")
pytest.importorskip("peft")

from lora_helpers import random_lora  # noqa: E402  (needs peft)

RECIPE = """\
run_dir: run
eval:
  questions: ["sciinstruct:data/questions/prefix_heldout.jsonl"]
  backend: {name: embedded, options: {parallel: 1, slots: 2, n_ctx: 512}}
  config: {limit: 3, max_tokens: 16, template: "{question}{choices}"}
"""


def _flow(tmp_path: Path, text: str = RECIPE) -> Flow:
    path = tmp_path / "r.yaml"
    path.write_text(text, encoding="utf-8")
    return Flow(load_recipe(path), base=tmp_path)


def _trained(flow: Flow) -> Path:
    """What the train stage leaves: the LoRA adapter in model/, final.txt naming the merged
    model (here the base's directory stands in for it: eval on llama.cpp never loads it)."""
    from sciinstruct.embedded_model import hf_model_dir

    adapter = random_lora(flow.run.model_dir / "model")
    (flow.run.model_dir / "final.txt").write_text(str(hf_model_dir()), encoding="utf-8")
    return adapter


def test_transformers_eval_keeps_a_model_directory_each(tmp_path: Path) -> None:
    spec = EngineSpec(name="transformers", batch_size=4)
    engines = model_engines(spec, "base-dir", tmp_path / "merged", tmp_path / "model")
    assert {k: (e.name, e.model, e.options) for k, e in engines.items()} == {
        "base": ("transformers", "base-dir", {}),
        "tuned": ("transformers", str(tmp_path / "merged"), {}),
    }
    assert not runs_on_llamacpp(spec)
    assert runs_on_llamacpp(EngineSpec(name="embedded")) and runs_on_llamacpp(
        EngineSpec(name="llamacpp")
    )


def test_llamacpp_eval_refuses_what_it_cannot_run(tmp_path: Path) -> None:
    from sciinstruct.embedded_model import hf_model_dir

    spec = EngineSpec(name="llamacpp")
    with pytest.raises(InputError, match="train.model is Qwen/Qwen2.5-0.5B"):
        model_engines(spec, "Qwen/Qwen2.5-0.5B", None, tmp_path)
    with pytest.raises(InputError, match="training saved no adapter"):
        model_engines(spec, hf_model_dir(), tmp_path / "merged", tmp_path / "model")
    # a GGUF of another model is the user's word: no check of train.model then
    gguf = dataclasses.replace(spec, model="other.gguf")
    assert model_engines(gguf, "Qwen/Qwen2.5-0.5B", None, tmp_path)["base"] is gguf


@pytest.mark.slow
def test_eval_stage_runs_base_and_tuned_on_llamacpp(tmp_path: Path) -> None:
    flow = _flow(tmp_path)
    adapter = _trained(flow)
    assert flow.stage_eval()
    base, tuned = (
        json.loads((flow.run.eval_dir / label / "results.json").read_text())
        for label in ("base", "tuned")
    )
    assert (base["backend"], tuned["backend"]) == ("llamacpp", "llamacpp")
    assert base["model"] == "SmolLM2-135M-Instruct.Q8_0+flash_attn"
    assert tuned["model"].startswith("SmolLM2-135M-Instruct.Q8_0+flash_attn+lora@")
    assert tuned["config"]["engine"]["options"]["lora"] == str(adapter)
    assert "lora" not in base["config"]["engine"]["options"]
    responses = {
        label: [
            json.loads(line)["response"]
            for line in (flow.run.eval_dir / label / "predictions.jsonl").read_text().splitlines()
        ]
        for label in ("base", "tuned")
    }
    assert len(responses["base"]) == len(responses["tuned"]) == 3
    assert responses["base"] != responses["tuned"]  # the adapter is applied
    stats = json.loads(flow.run.stats.read_text())
    assert stats["before_after"]["paired"]["prefix_heldout"]["n"] == 3
    assert not flow.stage_eval()  # fresh results are kept
    # a full fine-tune (no adapter) cannot be evaluated this way: said before any model loads
    shutil.rmtree(flow.run.eval_dir / "tuned")
    (adapter / "adapter_config.json").unlink()
    with pytest.raises(InputError, match="training saved no adapter"):
        flow.stage_eval()
