"""`sciinstruct train sft|dpo|grpo|rft`: fine-tune a model on exported data.

Every subcommand takes the same flags; a recipe (`--config`, default: the shipped recipe of that
trainer) supplies everything else, and `--set KEY=VALUE` overrides any recipe setting. Runs on
several GPUs or nodes through `accelerate launch -m sciinstruct.cli.main train ...` (see
docs/training.md). Heavy imports (torch, TRL) happen only when a command runs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import typer

from sciinstruct.log import console

HELP = {
    "sft": "Supervised fine-tuning on chat rows (export/sft.jsonl or rft.jsonl).",
    "dpo": "Direct preference optimisation on chosen/rejected pairs (export/dpo.jsonl).",
    "grpo": "GRPO with verifiable rewards on questions with references (export/grpo.jsonl).",
    "rft": "Rejection-sampling fine-tuning: sample k solutions, keep correct distinct ones, SFT; "
    "repeat for `rounds` (questions: grpo.jsonl or a Question-schema file).",
}

train_app = typer.Typer(
    help="Fine-tune a model (TRL + PEFT): sft, dpo, grpo, rft.", no_args_is_help=True
)


def _run(kind: str, recipe: Path | None, flags: dict[str, object], sets: list[str]) -> None:
    from sciinstruct.train import TRAINERS
    from sciinstruct.train.config import (
        CONFIG_CLASSES,
        load_config,
        parse_assignments,
        shipped_recipe,
    )

    overrides = parse_assignments(sets)
    overrides.update({k: v for k, v in flags.items() if v is not None})
    cfg = load_config(CONFIG_CLASSES[kind], recipe or shipped_recipe(kind), overrides)
    result = TRAINERS[kind](cfg)
    summary = {
        "model": str(result.final_model),
        "out": str(result.out),
        "metrics": {k: v for k, v in result.metrics.items() if isinstance(v, int | float)},
    }
    if os.environ.get("RANK", "0") == "0":  # under accelerate launch, print once
        console.print_json(json.dumps(summary))


def _command(kind: str) -> Callable[..., None]:
    def command(
        data: Path = typer.Option(..., "--data", help="Training file (.jsonl or .parquet)."),
        out: Path = typer.Option(..., "--out", help="Output directory."),
        model: str = typer.Option(
            None, "--model", help="Base model directory or hub id (default: the embedded model)."
        ),
        config: Path = typer.Option(
            None, "--config", help=f"Recipe YAML (default: the shipped recipes/train/{kind}.yaml)."
        ),
        max_steps: int = typer.Option(None, "--max-steps", help="Stop after N optimizer steps."),
        resume: bool = typer.Option(
            None, "--resume/--no-resume", help="Continue from the last checkpoint in --out."
        ),
        merge: bool = typer.Option(
            None, "--merge/--no-merge", help="Also save the LoRA adapter merged into the model."
        ),
        finetune: str = typer.Option(None, "--finetune", help="lora, full or auto."),
        eval_data: Path = typer.Option(None, "--eval-data", help="Separate eval file."),
        epochs: float = typer.Option(None, "--epochs", help="Passes over the data."),
        learning_rate: float = typer.Option(None, "--lr", help="Peak learning rate."),
        batch_size: int = typer.Option(None, "--batch-size", help="Sequences per device per step."),
        max_length: int = typer.Option(None, "--max-length", help="Longest sequence in tokens."),
        sets: list[str] = typer.Option(
            [], "--set", help="Override any recipe setting: --set lora_r=8 (YAML value)."
        ),
    ) -> None:
        flags = {
            "data": str(data),
            "out": str(out),
            "model": model,
            "max_steps": max_steps,
            "resume": resume,
            "merge": merge,
            "finetune": finetune,
            "eval_data": str(eval_data) if eval_data else None,
            "epochs": epochs,
            "learning_rate": learning_rate,
            "batch_size": batch_size,
            "max_length": max_length,
        }
        _run(kind, config, flags, sets)

    command.__doc__ = HELP[kind]
    return command


for _kind in HELP:
    train_app.command(_kind, help=HELP[_kind])(_command(_kind))


def register(app: typer.Typer) -> None:
    """Add `sciinstruct train ...` to the main app."""
    app.add_typer(train_app, name="train")
