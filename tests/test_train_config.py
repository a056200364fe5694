"""Training configs: recipe < flags precedence, unknown keys, cross-field rules with values."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest

from sciinstruct.errors import InputError
from sciinstruct.settings import OldKey, build, deprecated, retired
from sciinstruct.train.config import (
    CONFIG_CLASSES,
    GRPOTrainConfig,
    RFTTrainConfig,
    SFTTrainConfig,
    load_config,
    parse_assignments,
    shipped_recipe,
)


@pytest.mark.parametrize("kind", sorted(CONFIG_CLASSES))
def test_shipped_recipes_load(kind: str) -> None:
    cfg = load_config(CONFIG_CLASSES[kind], shipped_recipe(kind))
    assert isinstance(cfg, CONFIG_CLASSES[kind])


def test_recipe_sets_defaults_and_flags_override(tmp_path: Path) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text("learning_rate: 1.0e-3\nlora_r: 4\npacking: false\n")
    cfg = load_config(SFTTrainConfig, recipe, {"lora_r": 8, "max_steps": None})
    assert cfg.learning_rate == 1e-3  # from the recipe
    assert cfg.lora_r == 8  # the flag wins
    assert cfg.packing is False
    assert cfg.max_steps == -1  # a None flag leaves the default


def test_yaml_values_are_converted_by_declared_type(tmp_path: Path) -> None:
    # YAML 1.1 reads `2e-5` (no dot) as the string "2e-5"; the declared float type decides.
    recipe = tmp_path / "r.yaml"
    recipe.write_text("learning_rate: 2e-5\nwarmup_ratio: 0\nmax_steps: '3'\n")
    cfg = load_config(SFTTrainConfig, recipe)
    assert cfg.learning_rate == 2e-5 and isinstance(cfg.learning_rate, float)
    assert cfg.warmup_ratio == 0.0 and isinstance(cfg.warmup_ratio, float)
    assert cfg.max_steps == 3
    # a field that takes a list or a string keeps the string: LoRA's `all-linear` is a keyword
    recipe.write_text("lora_target_modules: all-linear\n")
    assert load_config(SFTTrainConfig, recipe).lora_target_modules == "all-linear"
    recipe.write_text("learning_rate: fast\n")
    with pytest.raises(InputError, match=r"r\.yaml field 'learning_rate': expected a number"):
        load_config(SFTTrainConfig, recipe)


def test_unknown_recipe_key_names_file_and_suggests(tmp_path: Path) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text("learning_rat: 0.1\n")
    with pytest.raises(InputError) as info:
        load_config(SFTTrainConfig, recipe)
    assert str(recipe) in str(info.value)
    assert info.value.field == "learning_rat"
    assert "did you mean 'learning_rate'" in str(info.value)


def test_unknown_flag_is_an_error() -> None:
    with pytest.raises(InputError, match="num_generations"):
        load_config(SFTTrainConfig, None, {"num_generations": 4})  # a GRPO-only field


def test_grpo_batch_must_be_multiple_of_group_with_values() -> None:
    with pytest.raises(ValueError, match=r"3 \* 1 = 3\) .*num_generations \(2\)"):
        GRPOTrainConfig(batch_size=3, gradient_accumulation_steps=1, num_generations=2)


def test_grpo_reward_weights_must_match_rewards() -> None:
    with pytest.raises(ValueError, match="reward_weights has 1 entries but rewards has 2"):
        GRPOTrainConfig(rewards=["correctness", "format"], reward_weights=[1.0])


def test_rft_keep_cannot_exceed_samples() -> None:
    with pytest.raises(ValueError, match=r"keep_per_question \(5\) cannot exceed samples \(2\)"):
        RFTTrainConfig(samples=2, keep_per_question=5)


def test_invalid_values_become_input_errors() -> None:
    with pytest.raises(InputError, match="eval_fraction must be in"):
        load_config(SFTTrainConfig, None, {"eval_fraction": 1.5})
    with pytest.raises(InputError, match="finetune must be one of auto, lora, full"):
        load_config(SFTTrainConfig, None, {"finetune": "qlora"})


def test_parse_assignments_reads_yaml_values() -> None:
    assert parse_assignments(["lora_r=8", "rewards=[format, correctness]", "merge=true"]) == {
        "lora_r": 8,
        "rewards": ["format", "correctness"],
        "merge": True,
    }
    with pytest.raises(InputError, match="KEY=VALUE"):
        parse_assignments(["lora_r"])


@pytest.mark.parametrize(
    ("old", "new", "value"),
    [
        ("epochs", "num_train_epochs", 2),
        ("grad_accum", "gradient_accumulation_steps", 4),
        ("warmup", "warmup_ratio", 0.1),
        ("lr_scheduler", "lr_scheduler_type", "linear"),
    ],
)
def test_the_old_names_of_trl_fields_are_refused_with_the_new_one(tmp_path, old, new, value):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"{old}: {value}\n")
    with pytest.raises(InputError, match=f"`{old}` was renamed: use `{new}`") as info:
        load_config(SFTTrainConfig, recipe)
    assert info.value.field == old and str(recipe) in str(info.value)
    recipe.write_text(f"{new}: {value}\n")
    assert getattr(load_config(SFTTrainConfig, recipe), new) == value


def test_every_shipped_recipe_loads_with_trl_names() -> None:
    for kind, cls in CONFIG_CLASSES.items():
        cfg = load_config(cls, shipped_recipe(kind))
        assert cfg.num_train_epochs > 0 and cfg.gradient_accumulation_steps >= 1


@dataclass
class _Section:
    OLD_KEYS: ClassVar[dict[str, OldKey]] = {
        "size": deprecated("batch_size"),
        "epochs": retired("num_train_epochs"),
    }
    batch_size: int = 1
    num_train_epochs: float = 1.0


def test_one_table_of_old_keys_reads_the_deprecated_and_refuses_the_retired(caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="sciinstruct"):
        assert build(_Section, {"size": "8"}, "train", "r.yaml").batch_size == 8
    assert "r.yaml: train.size is deprecated: write `batch_size`" in caplog.text
    with pytest.raises(InputError, match="give `batch_size` only") as both:
        build(_Section, {"size": 8, "batch_size": 8}, "train", "r.yaml")
    assert both.value.field == "train.size"
    with pytest.raises(InputError, match="`epochs` was renamed: use `num_train_epochs`") as old:
        build(_Section, {"epochs": 2}, "train", "r.yaml")
    assert old.value.field == "train.epochs"
    with pytest.raises(InputError, match="did you mean 'batch_size'"):
        build(_Section, {"batch_sise": 2}, "train", "r.yaml")
