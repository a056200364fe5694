"""SFT on the embedded model: a few real steps, LoRA and full, merge, resume, the model card."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sciinstruct.errors import InputError
from sciinstruct.train import SFTTrainConfig, train_sft
from train_helpers import generate_text, logit_shift, lora_b_norms, losses, sft_rows, write_rows

pytestmark = [pytest.mark.slow, pytest.mark.train]

TINY = {"batch_size": 2, "max_length": 96, "warmup_ratio": 0, "logging_steps": 1, "save_steps": 2}


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("sft")
    data = write_rows(tmp / "sft.jsonl", sft_rows(8))
    cfg = SFTTrainConfig(
        data=str(data), out=str(tmp / "out"), max_steps=2, merge=True, eval_fraction=0.25, **TINY
    )
    return cfg, train_sft(cfg)


def test_lora_sft_logs_loss_and_trains_the_adapter(lora_run) -> None:
    cfg, result = lora_run
    assert len(losses(result.log_history)) == 2 and all(x > 0 for x in losses(result.log_history))
    assert result.metrics["eval_loss"] > 0  # 2 of 8 rows held out
    norms = lora_b_norms(result.model_dir)
    assert len(norms) == 30 * 7  # 30 layers x 7 linear modules ("all-linear")
    assert all(n > 0 for n in norms.values())  # B starts at zero; every one has moved


def test_merged_model_differs_from_base_and_generates(lora_run) -> None:
    from safetensors.torch import load_file

    from sciinstruct.embedded_model import hf_model_dir

    cfg, result = lora_run
    key = "model.layers.0.self_attn.q_proj.weight"
    base = load_file(str(hf_model_dir() / "model.safetensors"))[key]
    merged = load_file(str(result.merged_dir / "model.safetensors"))[key]
    assert base.shape == merged.shape and not base.equal(merged)
    generate_text(result.merged_dir)  # loads and generates new tokens
    assert logit_shift(result.merged_dir) > 1e-3  # and computes something else than the base


def test_model_card_records_data_and_settings(lora_run) -> None:
    cfg, result = lora_run
    card = (result.model_dir / "README.md").read_text()
    assert "base_model:" in card and "library_name: peft" in card
    assert '"rows_train": 6' in card and '"rows_eval": 2' in card
    assert "max_steps: 2" in card and "packing: true" in card
    merged_card = (result.merged_dir / "README.md").read_text()
    assert "library_name: transformers" in merged_card and "merged into the base" in merged_card
    saved = json.loads((result.out / "metrics.json").read_text())
    assert saved["metrics"]["train_loss"] == pytest.approx(result.metrics["train_loss"])


def test_existing_checkpoints_need_resume_and_resume_continues(lora_run) -> None:
    cfg, result = lora_run
    assert (Path(cfg.out) / "checkpoint-2").is_dir()
    with pytest.raises(InputError, match="pass --resume"):
        train_sft(SFTTrainConfig(**{**cfg.to_dict(), "max_steps": 3}))
    resumed = train_sft(SFTTrainConfig(**{**cfg.to_dict(), "max_steps": 3, "resume": True}))
    steps = [e["step"] for e in resumed.log_history if "loss" in e]
    assert steps[-1] == 3 and 1 not in steps[2:]  # step 3 ran; steps 1-2 were not redone


def test_full_fine_tuning_changes_base_weights(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    from sciinstruct.embedded_model import hf_model_dir

    data = write_rows(tmp_path / "sft.jsonl", sft_rows(4))
    cfg = SFTTrainConfig(
        data=str(data),
        out=str(tmp_path / "out"),
        max_steps=1,
        finetune="full",
        learning_rate=1e-4,
        eval_fraction=0,
        **TINY,
    )
    result = train_sft(cfg)
    assert losses(result.log_history)
    key = "model.layers.0.mlp.down_proj.weight"
    before = load_file(str(hf_model_dir() / "model.safetensors"))[key]
    after = load_file(str(result.model_dir / "model.safetensors"))[key]
    assert not before.equal(after)
    generate_text(result.model_dir)  # loads and generates new tokens
    assert logit_shift(result.model_dir) > 1e-3  # and computes something else than the base
