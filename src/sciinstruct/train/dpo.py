"""Direct preference optimisation with TRL's DPOTrainer on `dpo.jsonl` pairs.

ChatGLM-Math pairs a correct (or higher-critique) solution with a wrong one for the same
question. With LoRA, TRL uses the base model with the adapter switched off as the reference, so
no second copy of the model is held; with full fine-tuning TRL loads a frozen reference copy.
"""

from __future__ import annotations

from typing import Any

from sciinstruct.log import logger
from sciinstruct.train import data as train_data
from sciinstruct.train.config import DPOTrainConfig
from sciinstruct.train.model import load_model, load_tokenizer, lora_config, resolve_model
from sciinstruct.train.runner import (
    TrainResult,
    checkpoint_to_resume,
    finish,
    load_splits,
    training_kwargs,
)


def load_dpo_data(cfg: DPOTrainConfig, tokenizer: Any) -> tuple[Any, Any, dict[str, Any]]:
    """Validated preference pairs (train, eval) and the card's data summary."""
    options = {"too_long": cfg.too_long}
    return load_splits(cfg, train_data.dpo_row, tokenizer, **options)


def train_dpo(cfg: DPOTrainConfig) -> TrainResult:
    """Check the pairs, then run DPO from `cfg.model`."""
    from trl import DPOConfig, DPOTrainer

    resume_from = checkpoint_to_resume(cfg)
    base = resolve_model(cfg.model)
    tokenizer = load_tokenizer(base)
    train_ds, eval_ds, summary = load_dpo_data(cfg, tokenizer)
    logger.info(
        "dpo: %d pairs for training, %d for eval", summary["rows_train"], summary["rows_eval"]
    )
    args = DPOConfig(
        **training_kwargs(cfg, eval_ds is not None),
        max_length=cfg.max_length,
        beta=cfg.beta,
        loss_type=[cfg.loss_type],
    )
    trainer = DPOTrainer(
        model=load_model(base, cfg.precision),
        args=args,
        train_dataset=train_ds,
        eval_dataset=eval_ds,
        processing_class=tokenizer,
        peft_config=lora_config(cfg),
    )
    return finish(trainer, cfg, "dpo", base, summary, resume_from)
