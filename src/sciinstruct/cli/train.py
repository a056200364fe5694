"""`sciinstruct train sft|dpo|grpo|rft`: fine-tune a model on exported data.

Every field of the trainer's config (`train/config.py`) is a flag with its help and default; a
recipe (`--config`, default: the shipped recipe of that
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

from sciinstruct.cli.options import config_options, help_of
from sciinstruct.log import console
from sciinstruct.train.config import CONFIG_CLASSES, TrainConfig, shipped_recipe

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


def train_config(
    kind: str, given: dict[str, object], recipe: Path | None = None, sets: list[str] | None = None
) -> TrainConfig:
    """The trainer's config: its defaults < the recipe < `--set` < the options given."""
    from sciinstruct.cli.options import build_config

    return build_config(CONFIG_CLASSES[kind], given, recipe or shipped_recipe(kind), sets)


def _command(kind: str) -> Callable[..., None]:
    @config_options(CONFIG_CLASSES[kind], exclude=("data", "out"))
    def command(
        given: dict[str, object],
        data: Path = typer.Option(..., "--data", help=help_of(TrainConfig, "data")),
        out: Path = typer.Option(..., "--out", help=help_of(TrainConfig, "out")),
        config: Path = typer.Option(
            None, "--config", help=f"Recipe YAML (default: the shipped recipes/train/{kind}.yaml)."
        ),
        sets: list[str] = typer.Option(
            [], "--set", help="Override any recipe setting: --set lora_r=8 (YAML value)."
        ),
    ) -> None:
        from sciinstruct.train import TRAINERS

        cfg = train_config(kind, {**given, "data": str(data), "out": str(out)}, config, sets)
        result = TRAINERS[kind](cfg)
        summary = {
            "model": str(result.final_model),
            "out": str(result.out),
            "metrics": {k: v for k, v in result.metrics.items() if isinstance(v, int | float)},
        }
        if os.environ.get("RANK", "0") == "0":  # under accelerate launch, print once
            console.print_json(json.dumps(summary))

    command.__doc__ = HELP[kind]
    return command


for _kind in HELP:
    train_app.command(_kind, help=HELP[_kind])(_command(_kind))


def register(app: typer.Typer) -> None:
    """Add `sciinstruct train ...` to the main app."""
    app.add_typer(train_app, name="train")
