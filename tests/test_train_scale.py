"""Training at scale: the shipped accelerate configs, TRL's GRPO variants and vLLM options by
TRL's own names, and RFT sampling through the response cache.

DeepSpeed does not install without CUDA here, so the ZeRO and FSDP configs are checked with
accelerate's own loader and launcher options; `bench/gpu_check.sh` runs ZeRO-2 steps on a GPU.
The 2-process CPU config trains for real in tests/test_train_distributed.py.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from sciinstruct.errors import InputError
from sciinstruct.train.config import (
    GRPO_LOSS_TYPES,
    SCALE_REWARDS,
    GRPOTrainConfig,
    RFTTrainConfig,
    load_config,
    shipped_recipe,
)

pytest.importorskip("trl", reason="needs the train extra (pip install 'sciinstruct[train]')")
pytestmark = pytest.mark.train

ACCELERATE_DIR = shipped_recipe("sft").parents[2] / "configs" / "accelerate"


def _help(field_name: str) -> str:
    from trl import GRPOConfig

    return next(f for f in dataclasses.fields(GRPOConfig) if f.name == field_name).metadata["help"]


def test_grpo_variant_keys_are_trl_grpo_config_fields() -> None:
    from trl import GRPOConfig

    trl_fields = {f.name for f in dataclasses.fields(GRPOConfig)}
    ours = {f.name for f in dataclasses.fields(GRPOTrainConfig)}
    variant = {
        "loss_type", "importance_sampling_level", "scale_rewards", "epsilon", "epsilon_high",
        "mask_truncated_completions", "use_vllm", "vllm_mode", "vllm_server_base_url",
        "vllm_gpu_memory_utilization", "vllm_tensor_parallel_size",
    }  # fmt: skip
    assert variant <= ours and variant <= trl_fields
    defaults = {f.name: f.default for f in dataclasses.fields(GRPOConfig)}
    mine = GRPOTrainConfig()
    for name in ("loss_type", "importance_sampling_level", "scale_rewards", "vllm_mode"):
        assert getattr(mine, name) == defaults[name]  # TRL's own defaults, unchanged


def test_grpo_choices_are_the_ones_trl_documents() -> None:
    loss_help = _help("loss_type")
    for loss in GRPO_LOSS_TYPES:
        assert f"'{loss}'" in loss_help
    assert "'sequence'" in _help("importance_sampling_level")
    scale_help = _help("scale_rewards")
    for value in ("group", "batch", "none"):
        # TRL's help quotes them as `group'`, 'batch', 'none'
        assert value in SCALE_REWARDS and f"{value}'" in scale_help
    assert "'server'" in _help("vllm_mode") and "'colocate'" in _help("vllm_mode")


def test_recipe_reaches_grpo_variants_and_vllm_by_trl_names(tmp_path: Path) -> None:
    from sciinstruct.train.grpo import grpo_variant_kwargs

    cfg = load_config(
        GRPOTrainConfig,
        shipped_recipe("grpo"),
        {
            "loss_type": "dr_grpo",
            "scale_rewards": "none",
            "importance_sampling_level": "sequence",
            "use_vllm": True,
            "vllm_mode": "server",
            "vllm_server_base_url": "http://10.0.0.2:8000",
            "trl_options": {"num_iterations": 2},
        },
    )
    kwargs = grpo_variant_kwargs(cfg)
    assert kwargs["loss_type"] == "dr_grpo" and kwargs["scale_rewards"] == "none"
    assert kwargs["importance_sampling_level"] == "sequence" and kwargs["num_iterations"] == 2
    assert kwargs["use_vllm"] is True and kwargs["vllm_mode"] == "server"
    from trl import GRPOConfig

    args = GRPOConfig(output_dir=str(tmp_path), use_cpu=True, report_to="none", **kwargs)
    assert args.loss_type == "dr_grpo" and args.vllm_server_base_url == "http://10.0.0.2:8000"
    # auto: vLLM only where it is installed and a GPU is seen (neither here)
    assert grpo_variant_kwargs(GRPOTrainConfig())["use_vllm"] is False


def test_grpo_variant_typos_are_one_line_errors() -> None:
    from sciinstruct.train.grpo import grpo_variant_kwargs

    with pytest.raises(InputError, match="loss_type must be one of .*got 'drgrpo'"):
        load_config(GRPOTrainConfig, None, {"loss_type": "drgrpo"})
    with pytest.raises(
        InputError, match="trl_options.num_iteration.*did you mean 'num_iterations'"
    ):
        grpo_variant_kwargs(GRPOTrainConfig(trl_options={"num_iteration": 2}))
    with pytest.raises(InputError, match="trl_options sets loss_type"):
        load_config(GRPOTrainConfig, None, {"trl_options": {"loss_type": "grpo"}})


@pytest.mark.parametrize("name", ["cpu_2proc", "zero2", "zero3", "fsdp"])
def test_shipped_accelerate_configs_pass_accelerates_own_checks(name: str) -> None:
    from accelerate.commands.config.config_args import load_config_from_file
    from accelerate.commands.launch import launch_command_parser

    path = ACCELERATE_DIR / f"{name}.yaml"
    config = load_config_from_file(str(path))  # accelerate's loader: unknown keys raise
    expected = {"cpu_2proc": "MULTI_GPU", "zero2": "DEEPSPEED", "zero3": "DEEPSPEED"}
    assert config.distributed_type.value == expected.get(name, "FSDP")
    # `accelerate launch` turns each nested key into its own option: every key must be one
    options = {a.dest for a in launch_command_parser()._actions}
    nested = {**(config.deepspeed_config or {}), **(config.fsdp_config or {})}
    assert set(nested) <= options, sorted(set(nested) - options)
    if name.startswith("zero"):
        assert config.deepspeed_config["zero_stage"] == int(name[-1])
    if name == "fsdp":
        assert config.fsdp_config["fsdp_version"] == 2


@pytest.mark.slow
def test_rft_sampling_is_cached_and_resumable(tmp_path: Path) -> None:
    from sciinstruct.embedded_model import hf_model_dir
    from sciinstruct.train.rft import sample_requests, sample_solutions

    cfg = RFTTrainConfig(samples=2, keep_per_question=2, max_new_tokens=8, sample_batch_size=1)
    prompts = [
        [{"role": "user", "content": "What is 2 + 2?"}],
        [{"role": "user", "content": "What is 3 + 5?"}],
    ]
    cache = tmp_path / "cache.sqlite"
    model = str(hf_model_dir())
    first = sample_solutions(model, prompts[:1], cfg, 1, cache)  # as if killed after one question
    stored = _created(cache)
    both = sample_solutions(model, prompts, cfg, 1, cache)
    assert both[0] == first[0] and len(both) == 2 and all(len(s) == 2 for s in both)
    after = _created(cache)
    assert len(stored) == 2 and len(after) == 4
    assert {k: after[k] for k in stored} == stored  # the first question was not asked again
    assert sample_solutions(model, prompts, cfg, 1, cache) == both
    assert _created(cache) == after
    round_2 = [r.params.seed for r in sample_requests(prompts, cfg, 2)]
    assert round_2 == [cfg.seed + 2000, cfg.seed + 2001] * 2  # a new round draws new samples


def _created(cache: Path) -> dict[str, float]:
    import sqlite3

    with sqlite3.connect(cache) as conn:
        return dict(conn.execute("SELECT key, created FROM responses").fetchall())
