"""Training: SFT, rejection-sampling fine-tuning, DPO and GRPO, wrapping TRL and PEFT.

Each trainer takes its config dataclass and returns a `TrainResult`:

    from sciinstruct.train import SFTTrainConfig, train_sft
    result = train_sft(SFTTrainConfig(data="run/export/sft.jsonl", out="runs/sft", max_steps=50))
    result.final_model   # a directory `from_pretrained` loads

Torch, transformers, TRL and PEFT are imported only when a trainer runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sciinstruct.train.config import (
    CONFIG_CLASSES,
    DPOTrainConfig,
    GRPOTrainConfig,
    RFTTrainConfig,
    SFTTrainConfig,
    TrainConfig,
    load_config,
)
from sciinstruct.train.dpo import train_dpo
from sciinstruct.train.grpo import train_grpo
from sciinstruct.train.rewards import available_rewards, get_reward, register_reward
from sciinstruct.train.rft import train_rft
from sciinstruct.train.runner import TrainResult
from sciinstruct.train.sft import train_sft

TRAINERS: dict[str, Callable[[Any], TrainResult]] = {
    "sft": train_sft,
    "dpo": train_dpo,
    "grpo": train_grpo,
    "rft": train_rft,
}

__all__ = [
    "CONFIG_CLASSES",
    "TRAINERS",
    "DPOTrainConfig",
    "GRPOTrainConfig",
    "RFTTrainConfig",
    "SFTTrainConfig",
    "TrainConfig",
    "TrainResult",
    "available_rewards",
    "get_reward",
    "load_config",
    "register_reward",
    "train_dpo",
    "train_grpo",
    "train_rft",
    "train_sft",
]
