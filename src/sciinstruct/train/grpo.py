"""GRPO with verifiable rewards (TRL's GRPOTrainer) on `grpo.jsonl` questions.

Each prompt is sampled `num_generations` times; every completion is scored by the reward
functions named in the recipe (the grader's correctness, an answer-format reward, scientific
format rewards, or your own); the group's rewards are normalised into advantages by TRL.
"""

from __future__ import annotations

from typing import Any

from sciinstruct.log import logger
from sciinstruct.train import data as train_data
from sciinstruct.train.config import GRPOTrainConfig
from sciinstruct.train.model import load_model, load_tokenizer, lora_config, resolve_model
from sciinstruct.train.rewards import get_reward
from sciinstruct.train.runner import (
    TrainResult,
    checkpoint_to_resume,
    finish,
    load_splits,
    training_kwargs,
)


def load_grpo_data(cfg: GRPOTrainConfig, tokenizer: Any) -> tuple[Any, Any, dict[str, Any]]:
    """Validated prompts with references; the prompt must leave room for the completion."""
    options = {"too_long": cfg.too_long, "reserve": cfg.max_completion_length}
    return load_splits(cfg, train_data.grpo_row, tokenizer, **options)


def train_grpo(cfg: GRPOTrainConfig) -> TrainResult:
    """Check the rewards and the data, then run GRPO from `cfg.model`."""
    from trl import GRPOConfig, GRPOTrainer

    resume_from = checkpoint_to_resume(cfg)
    reward_funcs = [get_reward(name) for name in cfg.rewards]  # unknown names fail before loading
    base = resolve_model(cfg.model)
    tokenizer = load_tokenizer(base)
    train_ds, eval_ds, summary = load_grpo_data(cfg, tokenizer)
    weights = cfg.reward_weights or [1.0] * len(cfg.rewards)
    summary["rewards"] = dict(zip(cfg.rewards, weights, strict=True))
    logger.info("grpo: %d prompts, rewards %s", summary["rows_train"], ", ".join(cfg.rewards))
    args = GRPOConfig(
        **training_kwargs(cfg, eval_ds is not None),
        num_generations=cfg.num_generations,
        max_completion_length=cfg.max_completion_length,
        temperature=cfg.temperature,
        beta=cfg.beta,
        reward_weights=cfg.reward_weights,
    )
    # GRPO pads prompts on the left so that every completion starts at the same position.
    tokenizer.padding_side = "left"
    trainer = GRPOTrainer(
        model=load_model(base, cfg.precision),
        reward_funcs=reward_funcs,
        args=args,
        train_dataset=train_ds,
        eval_dataset=eval_ds,
        processing_class=tokenizer,
        peft_config=lora_config(cfg),
    )
    return finish(trainer, cfg, "grpo", base, summary, resume_from)
