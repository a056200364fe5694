"""DPO on the embedded model: a few real steps on chosen/rejected pairs."""

from __future__ import annotations

from pathlib import Path

import pytest

from sciinstruct.errors import InputError
from sciinstruct.train import DPOTrainConfig, train_dpo
from train_helpers import dpo_rows, generate_text, logit_shift, lora_b_norms, losses, write_rows

pytestmark = [pytest.mark.slow, pytest.mark.train]


def test_dpo_trains_lora_and_saves_a_loadable_model(tmp_path: Path) -> None:
    data = write_rows(tmp_path / "dpo.jsonl", dpo_rows(4))
    cfg = DPOTrainConfig(
        data=str(data),
        out=str(tmp_path / "out"),
        max_steps=2,
        batch_size=2,
        max_length=96,
        warmup_ratio=0,
        logging_steps=1,
        eval_fraction=0,
        merge=True,
        learning_rate=1e-4,
    )
    result = train_dpo(cfg)
    logged = losses(result.log_history)
    assert len(logged) == 2
    assert logged[0] == pytest.approx(0.6931, abs=1e-3)  # policy == reference at step 1: ln 2
    assert any("rewards/margins" in e for e in result.log_history)
    assert all(n > 0 for n in lora_b_norms(result.model_dir).values())
    assert "dpo" in (result.merged_dir / "README.md").read_text()
    generate_text(result.merged_dir)  # loads and generates new tokens
    assert logit_shift(result.merged_dir) > 1e-3  # and computes something else than the base


def test_dpo_without_rejected_fails_before_loading_the_model(tmp_path: Path) -> None:
    rows = dpo_rows(2)
    del rows[1]["rejected"]
    data = write_rows(tmp_path / "dpo.jsonl", rows)
    cfg = DPOTrainConfig(data=str(data), out=str(tmp_path / "out"), max_steps=1)
    with pytest.raises(InputError, match=r"dpo.jsonl:2 field 'rejected'"):
        train_dpo(cfg)
    assert not (tmp_path / "out").exists()
