"""GRPO with verifiable rewards (TRL's GRPOTrainer) on `grpo.jsonl` questions.

Each prompt is sampled `num_generations` times; every completion is scored by the reward
functions named in the recipe (the grader's correctness, an answer-format reward, scientific
format rewards, or your own); the group's rewards are normalised into advantages by TRL.
"""

from __future__ import annotations

from typing import Any

from sciinstruct.errors import InputError, did_you_mean
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


def use_vllm(cfg: GRPOTrainConfig) -> bool:
    """`use_vllm` with `auto` resolved: vLLM installed and a GPU seen."""
    if cfg.use_vllm != "auto":
        return bool(cfg.use_vllm)
    import importlib.util

    from sciinstruct.train.model import on_gpu

    return importlib.util.find_spec("vllm") is not None and on_gpu()


def grpo_variant_kwargs(cfg: GRPOTrainConfig) -> dict[str, Any]:
    """The GRPO variant and vLLM settings as trl.GRPOConfig keywords (TRL's names), with
    `trl_options` checked against GRPOConfig's own fields before any model is loaded."""
    import dataclasses

    from trl import GRPOConfig

    known = {f.name for f in dataclasses.fields(GRPOConfig)}
    for key in cfg.trl_options:
        if key not in known:
            hint = did_you_mean(key, known)
            raise InputError(
                f"trl.GRPOConfig has no field {key!r}{f'; {hint}' if hint else ''}",
                field=f"trl_options.{key}",
            )
    scale = str(cfg.scale_rewards).lower()
    kwargs: dict[str, Any] = {
        "loss_type": cfg.loss_type,
        "importance_sampling_level": cfg.importance_sampling_level,
        "scale_rewards": {"true": True, "false": False}.get(scale, scale),
        "epsilon": cfg.epsilon,
        "epsilon_high": cfg.epsilon_high,
        "mask_truncated_completions": cfg.mask_truncated_completions,
        "use_vllm": use_vllm(cfg),
    }
    if kwargs["use_vllm"]:
        kwargs.update(
            vllm_mode=cfg.vllm_mode,
            vllm_server_base_url=cfg.vllm_server_base_url,
            vllm_gpu_memory_utilization=cfg.vllm_gpu_memory_utilization,
            vllm_tensor_parallel_size=cfg.vllm_tensor_parallel_size,
        )
    return {**kwargs, **cfg.trl_options}


def train_grpo(cfg: GRPOTrainConfig) -> TrainResult:
    """Check the rewards and the data, then run GRPO from `cfg.model`."""
    from trl import GRPOConfig, GRPOTrainer

    resume_from = checkpoint_to_resume(cfg)
    variant = grpo_variant_kwargs(cfg)  # a bad trl_options key fails before loading
    reward_funcs = [get_reward(name) for name in cfg.rewards]  # unknown names fail before loading
    base = resolve_model(cfg.model)
    tokenizer = load_tokenizer(base)
    train_ds, eval_ds, summary = load_grpo_data(cfg, tokenizer)
    weights = cfg.reward_weights or [1.0] * len(cfg.rewards)
    summary["rewards"] = dict(zip(cfg.rewards, weights, strict=True))
    logger.info("grpo: %d prompts, rewards %s", summary["rows_train"], ", ".join(cfg.rewards))
    summary["variant"] = {k: v for k, v in variant.items() if v is not None}
    args = GRPOConfig(
        **training_kwargs(cfg, eval_ds is not None),
        num_generations=cfg.num_generations,
        max_completion_length=cfg.max_completion_length,
        temperature=cfg.temperature,
        beta=cfg.beta,
        reward_weights=cfg.reward_weights,
        **variant,
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
