"""Supervised fine-tuning with TRL's SFTTrainer on `sft.jsonl` / `rft.jsonl` chat rows.

The chat template comes from the tokenizer (TRL applies it to conversational rows). With
`completion_only_loss` the last assistant turn is the completion and only its tokens carry loss.
Packing uses TRL's best-fit-decreasing packer: rows are laid end to end in `max_length` blocks
with no padding, and per-row position ids keep attention inside each row.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from sciinstruct.log import logger
from sciinstruct.train import data as train_data
from sciinstruct.train.config import SFTTrainConfig
from sciinstruct.train.model import load_model, load_tokenizer, lora_config, resolve_model
from sciinstruct.train.runner import (
    TrainResult,
    checkpoint_to_resume,
    finish,
    load_splits,
    training_kwargs,
)


def load_sft_data(cfg: SFTTrainConfig, tokenizer: Any) -> tuple[Any, Any, dict[str, Any]]:
    """Validated train and eval datasets plus the card's data summary."""
    convert = partial(train_data.sft_row, completion_only=cfg.completion_only_loss, seed=cfg.seed)
    return load_splits(cfg, convert, tokenizer, too_long=cfg.too_long)


def build_sft_trainer(
    cfg: SFTTrainConfig, model: Any, tokenizer: Any, train_ds: Any, eval_ds: Any | None
) -> Any:
    """A TRL SFTTrainer wired with our settings."""
    from trl import SFTConfig, SFTTrainer

    args = SFTConfig(
        **training_kwargs(cfg, eval_ds is not None),
        max_length=cfg.max_length,
        packing=cfg.packing,
        completion_only_loss=cfg.completion_only_loss,
        dataset_num_proc=None,
    )
    return SFTTrainer(
        model=model,
        args=args,
        train_dataset=train_ds,
        eval_dataset=eval_ds,
        processing_class=tokenizer,
        peft_config=lora_config(cfg),
    )


def train_sft(cfg: SFTTrainConfig, kind: str = "sft") -> TrainResult:
    """Check the data, then fine-tune `cfg.model` on it; see `runner` for the output layout."""
    resume_from = checkpoint_to_resume(cfg)
    base = resolve_model(cfg.model)
    tokenizer = load_tokenizer(base)
    train_ds, eval_ds, summary = load_sft_data(cfg, tokenizer)
    logger.info(
        "%s: %d train rows, %d eval rows", kind, summary["rows_train"], summary["rows_eval"]
    )
    model = load_model(base, cfg.precision)
    trainer = build_sft_trainer(cfg, model, tokenizer, train_ds, eval_ds)
    return finish(trainer, cfg, kind, base, summary, resume_from)
