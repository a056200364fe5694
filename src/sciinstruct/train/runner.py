"""What every trainer does around TRL: output directory and resume rules, the shared
TrainingArguments, and the finish (final model, optional merge, model card, metrics).

Layout of `out/`:

    checkpoint-N/        Trainer checkpoints (resume from the last with --resume)
    model/               the final model: a LoRA adapter, or full weights; README.md model card
    merged/              with --merge and LoRA: a standalone model with the adapter folded in
    training_config.yaml the resolved settings
    metrics.json         final train/eval metrics and the logged loss history
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sciinstruct.errors import InputError
from sciinstruct.log import logger
from sciinstruct.train import data as train_data
from sciinstruct.train.config import TrainConfig
from sciinstruct.train.data import LoadedData
from sciinstruct.train.model import file_digest, merge_adapter, uses_lora, write_model_card


@dataclass
class TrainResult:
    """Where the trained model went and how training went."""

    out: Path
    model_dir: Path
    merged_dir: Path | None
    metrics: dict[str, Any]
    log_history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def final_model(self) -> Path:
        """The directory a plain `from_pretrained` loads: merged if there is one."""
        return self.merged_dir or self.model_dir


def checkpoint_to_resume(cfg: TrainConfig) -> str | None:
    """The checkpoint to resume from, or None; refuses to silently restart over old checkpoints."""
    from transformers.trainer_utils import get_last_checkpoint

    if cfg.out is None:
        raise InputError("an output directory is required", field="out")
    out = Path(cfg.out)
    last = get_last_checkpoint(str(out)) if out.is_dir() else None
    if cfg.resume and last is None:
        raise InputError(
            "--resume given but there is no checkpoint-N to resume from", file=str(out)
        )
    if not cfg.resume and last is not None:
        raise InputError(
            f"already holds {Path(last).name}; pass --resume to continue it or choose another --out",
            file=str(out),
        )
    return last


def training_kwargs(cfg: TrainConfig, has_eval: bool) -> dict[str, Any]:
    """Keyword arguments shared by TRL's SFTConfig, DPOConfig and GRPOConfig."""
    import torch

    from sciinstruct.train.model import on_gpu, torch_dtype

    dtype = torch_dtype(cfg.precision)
    return {
        "output_dir": str(cfg.out),
        "max_steps": cfg.max_steps,
        "num_train_epochs": cfg.num_train_epochs,
        "learning_rate": cfg.learning_rate,
        "lr_scheduler_type": cfg.lr_scheduler_type,
        # transformers 5 dropped `warmup_ratio`: a `warmup_steps` below 1 is that fraction
        "warmup_steps": cfg.warmup_ratio,
        "weight_decay": cfg.weight_decay,
        "per_device_train_batch_size": cfg.batch_size,
        "per_device_eval_batch_size": cfg.batch_size,
        "gradient_accumulation_steps": cfg.gradient_accumulation_steps,
        "activation_checkpointing": cfg.gradient_checkpointing,
        "bf16": dtype == torch.bfloat16,
        "fp16": dtype == torch.float16,
        "logging_steps": cfg.logging_steps,
        "logging_first_step": True,  # short runs still log a loss
        "eval_strategy": "steps" if has_eval else "no",
        "eval_steps": cfg.eval_steps or cfg.save_steps,
        "save_strategy": "steps",
        "save_steps": cfg.save_steps,
        "save_total_limit": cfg.save_total_limit,
        "seed": cfg.seed,
        "data_seed": cfg.seed,
        "report_to": cfg.report_to,
        # Without a GPU, say so: under `accelerate launch`/torchrun this selects CPU data parallel
        # (gloo) instead of a silent single process per rank.
        "use_cpu": not on_gpu(),
        "dataloader_num_workers": 0,
        "dataloader_pin_memory": on_gpu(),  # pinned memory only helps host-to-GPU copies
    }


def load_splits(
    cfg: TrainConfig, convert: Any, tokenizer: Any, **options: Any
) -> tuple[Any, Any | None, dict[str, Any]]:
    """Validated train and eval datasets (`eval_data`, else a held-out fraction) and the model
    card's data summary; every trainer loads its data this way, before the model."""
    loaded = train_data.load(cfg.data, convert, tokenizer, cfg.max_length, **options)
    eval_rows = None
    if cfg.eval_data:
        eval_rows = train_data.load(
            cfg.eval_data, convert, tokenizer, cfg.max_length, **options
        ).rows
    train_ds, eval_ds = train_data.to_datasets(loaded.rows, cfg.eval_fraction, cfg.seed, eval_rows)
    summary = data_summary(loaded, len(train_ds), len(eval_ds) if eval_ds is not None else 0)
    return train_ds, eval_ds, summary


def data_summary(loaded: LoadedData, n_train: int, n_eval: int) -> dict[str, Any]:
    """What the model card records about the training data."""
    summary: dict[str, Any] = {
        "file": loaded.source,
        "sha256": file_digest(loaded.source),
        "rows_train": n_train,
        "rows_eval": n_eval,
    }
    if loaded.notes:
        summary["notes"] = loaded.notes
    return summary


def finish(
    trainer: Any,
    cfg: TrainConfig,
    kind: str,
    base_model: str,
    data: dict[str, Any],
    resume_from: str | None = None,
) -> TrainResult:
    """Train (from `resume_from` if given), save the final model, merge, write card and metrics."""
    if resume_from:
        logger.info("resuming from %s", resume_from)
    train_output = trainer.train(resume_from_checkpoint=resume_from)
    metrics: dict[str, Any] = dict(train_output.metrics)
    metrics["world_size"] = trainer.accelerator.num_processes
    evaluated_last_step = any(
        "eval_loss" in e and e.get("step") == trainer.state.global_step
        for e in trainer.state.log_history
    )
    if trainer.eval_dataset is not None and not evaluated_last_step:
        metrics.update(trainer.evaluate())
    elif evaluated_last_step:
        last_eval = [e for e in trainer.state.log_history if "eval_loss" in e][-1]
        metrics.update({k: v for k, v in last_eval.items() if k.startswith("eval_")})

    out = Path(cfg.out)
    model_dir = out / "model"
    trainer.save_model(str(model_dir))
    lora = uses_lora(cfg)
    merged_dir = out / "merged" if lora and cfg.merge else None
    history = [dict(entry) for entry in trainer.state.log_history]

    if trainer.accelerator.is_main_process:
        trainer.processing_class.save_pretrained(str(model_dir))
        card = {
            "kind": kind,
            "cfg": cfg,
            "base_model": base_model,
            "data": data,
            "metrics": metrics,
        }
        write_model_card(model_dir, lora=lora, **card)
        if merged_dir is not None:
            merge_adapter(model_dir, merged_dir)
            write_model_card(merged_dir, lora=True, merged=True, **card)
        (out / "training_config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
        payload = {"metrics": metrics, "log_history": history}
        (out / "metrics.json").write_text(json.dumps(payload, indent=2, default=str))
    trainer.accelerator.wait_for_everyone()
    return TrainResult(out, model_dir, merged_dir, metrics, history)
