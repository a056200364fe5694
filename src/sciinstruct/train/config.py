"""Training settings: one dataclass per trainer, read from a YAML recipe and overridden by flags.

Precedence, lowest first: the dataclass defaults, the recipe (`--config`, or the recipe shipped in
`sciinstruct/recipes/train/<kind>.yaml`), then command-line flags. A key the dataclass does not
know is an error that names the file and suggests the nearest field, so a typo in a recipe never
silently trains with a default. Cross-field rules live in `__post_init__` and their messages carry
the values that broke them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from sciinstruct.settings import (
    OldKey,
    build,
    check_declared,
    check_keys,
    load_yaml,
    option,
    package_path,
    parse_assignments,
    retired,
)

FINETUNE_MODES = ("auto", "lora", "full")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
TOO_LONG_POLICIES = ("error", "drop")
SAMPLE_BACKENDS = ("auto", "transformers", "vllm", "openai")
# trl.GRPOConfig's accepted values in TRL 1.16 (tests/test_train_scale.py checks them against
# TRL's own field help)
GRPO_LOSS_TYPES = ("dapo", "grpo", "dr_grpo", "bnpo", "cispo", "sapo", "luspo", "vespo")
SCALE_REWARDS = ("group", "batch", "none", "true", "false")


def _help(text: str, default: Any, **meta: Any) -> Any:
    """A field with its default, help text (shown by `--help`) and bounds (`settings.option`)."""
    return option(default, text, **meta)


def _redefault(base: type, name: str, default: Any, text: str | None = None) -> Any:
    """`base`'s field `name` (flag, bounds) with another default (and help) in a subclass."""
    meta = dict(next(f for f in dataclasses.fields(base) if f.name == name).metadata)
    if text is not None:
        meta["help"] = text
    return option(default, **meta)


# Keys renamed to TRL's field names (so a TRL user's YAML means what they expect): an old key
# is refused with its new name (`settings.check_keys` reads a class's OLD_KEYS).
RETIRED_KEYS: dict[str, OldKey] = {
    "epochs": retired("num_train_epochs"),
    "grad_accum": retired("gradient_accumulation_steps"),
    "warmup": retired("warmup_ratio"),
    "lr_scheduler": retired("lr_scheduler_type"),
}


@dataclass
class TrainConfig:
    """Settings every trainer shares: data, model, schedule, LoRA, checkpoints."""

    OLD_KEYS: ClassVar[dict[str, OldKey]] = RETIRED_KEYS

    data: str | None = _help("Training file in the export format (.jsonl or .parquet).", None)
    model: str | None = _help(
        "Base model: a directory or hub id; `embedded` or unset means the embedded SmolLM2-135M.",
        None,
    )
    out: str | None = _help("Output directory: checkpoints, the final model, the model card.", None)
    eval_data: str | None = _help(
        "Separate evaluation file; otherwise split off eval_fraction.", None
    )
    eval_fraction: float = _help(
        "Share of rows held out for eval loss when no eval_data.", 0.05, min=0.0, lt=1.0
    )
    max_steps: int = _help("Stop after this many optimizer steps (-1: run all epochs).", -1)
    num_train_epochs: float = _help("Passes over the training data.", 1.0, gt=0.0)
    learning_rate: float = _help("Peak learning rate.", 2e-4, gt=0.0, flag="--lr")
    lr_scheduler_type: str = _help(
        "transformers scheduler name (cosine, linear, constant, ...).", "cosine"
    )
    warmup_ratio: float = _help("Share of all steps spent warming up.", 0.03, min=0.0, lt=1.0)
    weight_decay: float = _help("AdamW weight decay.", 0.0)
    batch_size: int = _help("Sequences per device per forward pass.", 4, min=1)
    gradient_accumulation_steps: int = _help("Forward passes per optimizer step.", 1, min=1)
    max_length: int = _help("Longest tokenized sequence (prompt + response) allowed.", 1024, min=16)
    too_long: str = _help(
        "What a row longer than max_length does: `error` or `drop`.",
        "error",
        choices=TOO_LONG_POLICIES,
    )
    finetune: str = _help(
        "`lora`, `full`, or `auto` (LoRA on CPU, full on GPU).", "auto", choices=FINETUNE_MODES
    )
    lora_r: int = _help("LoRA rank.", 16, min=1)
    lora_alpha: int = _help("LoRA scaling numerator (scale = alpha / r).", 32)
    lora_dropout: float = _help("Dropout on the LoRA path.", 0.05)
    lora_target_modules: list[str] | str = _help(
        "Modules LoRA adapts: a list of names or `all-linear`.", "all-linear"
    )
    merge: bool = _help("Also write a standalone model with the LoRA adapter merged in.", False)
    precision: str = _help(
        "fp32, bf16, fp16, or auto (bf16 on a GPU that has it, else fp32).",
        "auto",
        choices=PRECISIONS,
    )
    gradient_checkpointing: bool = _help("Recompute activations to save memory.", False)
    logging_steps: int = _help("Log loss every this many steps.", 10, min=1)
    eval_steps: int | None = _help("Evaluate every this many steps (default: save_steps).", None)
    save_steps: int = _help("Checkpoint every this many steps.", 200, min=1)
    save_total_limit: int = _help("Keep at most this many checkpoints.", 2)
    resume: bool = _help("Continue from the last checkpoint in `out`.", False)
    seed: int = _help("Seed for data order, dropout and LoRA init.", 42)
    report_to: list[str] | str = _help("Trackers (wandb, tensorboard, ...) or `none`.", "none")

    def __post_init__(self) -> None:
        check_declared(self)  # the bounds each field declares
        if self.max_steps == 0 or self.max_steps < -1:
            raise ValueError(f"max_steps must be -1 (no cap) or positive, got {self.max_steps}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class SFTTrainConfig(TrainConfig):
    """Supervised fine-tuning on chat transcripts (`sft.jsonl`, `rft.jsonl`)."""

    packing: bool = _help(
        "Pack several rows into each max_length sequence (best-fit decreasing, no padding).", True
    )
    completion_only_loss: bool = _help(
        "Train on the final assistant turn only, not on the prompt tokens.", True
    )


@dataclass
class DPOTrainConfig(TrainConfig):
    """Direct preference optimisation on chosen/rejected pairs (`dpo.jsonl`)."""

    learning_rate: float = _redefault(
        TrainConfig, "learning_rate", 5e-6, "Peak learning rate (DPO wants it small)."
    )
    beta: float = _help("Strength of the pull towards the reference model.", 0.1, gt=0.0)
    loss_type: str = _help("TRL DPO loss: sigmoid, hinge, ipo, robust, ...", "sigmoid")

    def __post_init__(self) -> None:
        super().__post_init__()


@dataclass
class GRPOTrainConfig(TrainConfig):
    """GRPO with verifiable rewards on questions with reference answers (`grpo.jsonl`)."""

    learning_rate: float = _redefault(TrainConfig, "learning_rate", 1e-5)
    num_generations: int = _help(
        "Completions sampled per prompt (the group GRPO compares: at least 2).", 4, min=2
    )
    max_completion_length: int = _help("Longest completion sampled, in tokens.", 256)
    temperature: float = _help("Sampling temperature for the group.", 1.0)
    beta: float = _help("KL penalty to the reference model (0: no reference kept).", 0.0)
    rewards: list[str] = _help(
        "Reward functions by registered name or `module:function`.", ["correctness", "format"]
    )
    reward_weights: list[float] | None = _help("One weight per reward (default: all 1).", None)
    # TRL's GRPO variants, by TRL's own names and defaults (trl.GRPOConfig, TRL 1.16)
    loss_type: str = _help(
        "TRL loss: dapo (TRL's default), grpo, dr_grpo (with scale_rewards: none), bnpo, "
        "cispo, sapo, luspo or vespo.",
        "dapo",
        choices=GRPO_LOSS_TYPES,
    )
    importance_sampling_level: str = _help(
        "`token`, or `sequence` for GSPO.", "token", choices=("token", "sequence")
    )
    scale_rewards: str = _help(
        "Divide advantages by the reward std of the `group`, the `batch`, or `none`.", "group"
    )
    epsilon: float = _help("Lower clipping bound of the ratio.", 0.2)
    epsilon_high: float | None = _help("Upper clipping bound (DAPO: 0.28; unset: epsilon).", None)
    mask_truncated_completions: bool = _help(
        "Leave completions cut at max_completion_length out of the loss (DAPO).", False
    )
    # Generation through vLLM (TRL's names): colocated in the trainer's processes, or a server
    # started with `trl vllm-serve --model ...`
    use_vllm: bool | str = _help(
        "Generate with vLLM: true, false, or `auto` (where vllm is installed and a GPU is seen).",
        "auto",
    )
    vllm_mode: str = _help(
        "`colocate` (in the trainer) or `server` (`trl vllm-serve`).",
        "colocate",
        choices=("colocate", "server"),
    )
    vllm_server_base_url: str | None = _help(
        "vllm_mode server: the server's URL, e.g. http://10.0.0.2:8000.", None
    )
    vllm_gpu_memory_utilization: float = _help(
        "vllm_mode colocate: share of each GPU's memory vLLM may take.", 0.3
    )
    vllm_tensor_parallel_size: int = _help("vllm_mode colocate: GPUs per vLLM engine.", 1)
    trl_options: dict[str, Any] = _help(
        "Any other trl.GRPOConfig field by its TRL name, e.g. {num_iterations: 2}.", {}
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if str(self.scale_rewards).lower() not in SCALE_REWARDS:  # YAML may give a bool
            raise ValueError(
                f"scale_rewards must be one of {', '.join(SCALE_REWARDS)}; "
                f"got {self.scale_rewards!r}"
            )
        if self.use_vllm not in (True, False, "auto"):
            raise ValueError(f"use_vllm must be true, false or auto; got {self.use_vllm!r}")
        mine = set(self.__dataclass_fields__) & set(self.trl_options)
        if mine:
            raise ValueError(
                f"trl_options sets {', '.join(sorted(mine))}: set it as a recipe key instead"
            )
        per_step = self.batch_size * self.gradient_accumulation_steps
        if per_step % self.num_generations:
            raise ValueError(
                f"batch_size * gradient_accumulation_steps ({self.batch_size} * "
                f"{self.gradient_accumulation_steps} = {per_step}) "
                f"must be a multiple of num_generations ({self.num_generations})"
            )
        if not self.rewards:
            raise ValueError("rewards must name at least one reward function")
        if self.reward_weights is not None and len(self.reward_weights) != len(self.rewards):
            raise ValueError(
                f"reward_weights has {len(self.reward_weights)} entries but rewards has "
                f"{len(self.rewards)} ({', '.join(self.rewards)})"
            )
        if self.max_completion_length >= self.max_length:
            raise ValueError(
                f"max_completion_length ({self.max_completion_length}) must be below "
                f"max_length ({self.max_length}), which also holds the prompt"
            )


@dataclass
class RFTTrainConfig(SFTTrainConfig):
    """Rejection-sampling fine-tuning (ChatGLM-Math): sample, grade, keep correct, SFT; repeat."""

    rounds: int = _help(
        "Sample-grade-train rounds; each samples with the last round's model.", 1, min=1
    )
    samples: int = _help("Solutions sampled per question per round (k).", 4, min=1)
    keep_per_question: int = _help("Most distinct correct solutions kept per question.", 4, min=1)
    sample_temperature: float = _help(
        "Sampling temperature for the k solutions (> 0 to draw distinct ones).", 0.8, gt=0.0
    )
    sample_top_p: float = _help("Nucleus sampling threshold for the k solutions.", 0.95)
    max_new_tokens: int = _help("Longest sampled solution, in tokens.", 512, min=1)
    sample_batch_size: int = _help("Questions per generate() call while sampling.", 8, min=1)
    sample_backend: str = _help(
        "Engine that samples: `auto` (vllm where installed on a GPU, else transformers), "
        "`transformers`, `vllm`, or `openai` (a server of the round's model).",
        "auto",
        choices=SAMPLE_BACKENDS,
    )
    sample_backend_options: dict[str, Any] = _help(
        "Options of the sampling backend, e.g. {gpu_memory_utilization: 0.5} for vllm.", {}
    )
    judge_backend: str | None = _help(
        "LLM judge for the samples the grader's rules cannot decide (a backend name).", None
    )
    judge_model: str | None = _help("The judge's model.", None)
    judge_base_url: str | None = _help("openai judge: server URL(s).", None)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.keep_per_question > self.samples:
            raise ValueError(
                f"keep_per_question ({self.keep_per_question}) cannot exceed samples ({self.samples})"
            )


CONFIG_CLASSES: dict[str, type[TrainConfig]] = {
    "sft": SFTTrainConfig,
    "dpo": DPOTrainConfig,
    "grpo": GRPOTrainConfig,
    "rft": RFTTrainConfig,
}

C = TypeVar("C", bound=TrainConfig)


def shipped_recipe(kind: str) -> Path:
    """The recipe shipped with the package for a trainer kind."""
    return package_path(f"recipes/train/{kind}.yaml")


def load_config(
    cls: type[C], recipe: str | Path | None = None, overrides: dict[str, Any] | None = None
) -> C:
    """Build a config from a recipe file plus overrides (flags); `None` overrides are ignored.

    Values are converted by the fields' declared types (`learning_rate: 2e-5` is a float), an
    unknown key names the file (or "command line") and the nearest field."""
    values: dict[str, Any] = {}
    if recipe is not None:
        values = load_yaml(recipe, "recipe file")
        check_keys(cls, values, str(recipe))
    flags = {k: v for k, v in (overrides or {}).items() if v is not None}
    check_keys(cls, flags, "command line")
    sources = [str(recipe)] if recipe is not None else []
    sources += ["command line"] if flags or recipe is None else []
    source = " + ".join(sources)
    return build(cls, {**values, **flags}, file=source)


__all__ = [
    "CONFIG_CLASSES",
    "DPOTrainConfig",
    "GRPOTrainConfig",
    "RFTTrainConfig",
    "SFTTrainConfig",
    "TrainConfig",
    "load_config",
    "parse_assignments",
    "shipped_recipe",
]
