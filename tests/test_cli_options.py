"""Command-line options derived from the stage configs (`cli/options.py`): each field's help,
default and bounds are declared once, on its dataclass, and the flag and the recipe key set the
same field."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import typer.main

from sciinstruct.cli.main import app, main
from sciinstruct.train.config import SFTTrainConfig


def click_command(*names: str) -> Any:
    command = typer.main.get_command(app)
    for name in names:
        command = command.commands[name]  # type: ignore[attr-defined]
    return command


def option(command: Any, flag: str) -> Any:
    return next(p for p in command.params if flag in getattr(p, "opts", []))


def test_train_help_shows_the_training_fields_help(capsys) -> None:
    assert main(["train", "sft", "--help"]) == 0
    # rich wraps the help column inside a box: drop the borders to read it as one text
    text = re.sub(r"[│\s]+", " ", capsys.readouterr().out)
    assert "--lora-alpha" in text
    assert "LoRA scaling numerator" in text  # SFTTrainConfig.lora_alpha's declared help
    assert "Pack several rows into each max_length sequence" in text  # SFT's own field


def test_train_options_default_to_the_dataclass_default() -> None:
    sft = click_command("train", "sft")
    fields = {f.name: f for f in dataclasses.fields(SFTTrainConfig)}
    assert option(sft, "--lr").default == fields["learning_rate"].default == 2e-4
    assert option(sft, "--max-length").default == fields["max_length"].default == 1024
    dpo = click_command("train", "dpo")
    assert option(dpo, "--lr").default == 5e-6  # DPO's own default, same flag


def test_a_bound_broken_on_the_command_line_is_one_line(tmp_path: Path, capsys) -> None:
    code = main(["train", "sft", "--data", "x.jsonl", "--out", str(tmp_path), "--batch-size", "0"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err == "error: --batch-size must be >= 1, got 0"


def test_a_choice_broken_on_the_command_line_names_the_flag(tmp_path: Path, capsys) -> None:
    code = main(["train", "sft", "--data", "x", "--out", str(tmp_path), "--finetune", "half"])
    assert code == 2
    assert capsys.readouterr().err.strip() == (
        "error: --finetune must be one of auto, lora, full; got 'half'"
    )


@pytest.fixture
def captured_train(monkeypatch: pytest.MonkeyPatch) -> list[SFTTrainConfig]:
    """The config `train sft` would train with (training itself is tested in test_train_sft)."""
    import sciinstruct.train as train

    seen: list[SFTTrainConfig] = []

    def capture(cfg: SFTTrainConfig) -> SimpleNamespace:
        seen.append(cfg)
        return SimpleNamespace(final_model=cfg.out, out=cfg.out, metrics={})

    monkeypatch.setitem(train.TRAINERS, "sft", capture)
    return seen


def test_flag_and_recipe_key_set_the_same_field(tmp_path: Path, captured_train) -> None:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("learning_rate: 3e-5\nlora_alpha: 8\n", encoding="utf-8")
    base = ["train", "sft", "--data", "d.jsonl", "--out", str(tmp_path / "out")]
    assert main([*base, "--config", str(recipe)]) == 0
    assert main([*base, "--lr", "3e-5", "--lora-alpha", "8"]) == 0
    from_recipe, from_flags = captured_train
    assert from_recipe.learning_rate == from_flags.learning_rate == 3e-5
    assert from_recipe.lora_alpha == from_flags.lora_alpha == 8


def test_a_flag_wins_over_the_recipe_and_a_default_does_not(tmp_path: Path, captured_train) -> None:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("learning_rate: 3e-5\nmax_steps: 7\n", encoding="utf-8")
    base = ["train", "sft", "--data", "d.jsonl", "--out", str(tmp_path / "out")]
    assert main([*base, "--config", str(recipe), "--max-steps", "2"]) == 0
    (cfg,) = captured_train
    assert cfg.max_steps == 2  # the flag
    assert cfg.learning_rate == 3e-5  # the recipe: --lr's default does not hide it
    assert cfg.lora_target_modules == "all-linear"


def test_the_ngram_default_lives_in_the_curate_config_only() -> None:
    from sciinstruct.curate import CurateConfig

    declared = {f.name: f for f in dataclasses.fields(CurateConfig)}["ngram"]
    curate = click_command("curate")
    assert option(curate, "--ngram").default == declared.default == 13
    assert "Words in the n-grams" in option(curate, "--ngram").help
    source = (Path(__file__).parents[1] / "src/sciinstruct/cli/curation.py").read_text()
    assert "13" not in source


def test_curate_bound_on_the_command_line(tmp_path: Path, capsys) -> None:
    assert main(["curate", str(tmp_path), "--ngram", "0"]) == 2
    assert capsys.readouterr().err.strip() == "error: --ngram must be >= 1, got 0"
    assert main(["curate", str(tmp_path), "--near-threshold", "1.5"]) == 2
    assert (
        capsys.readouterr().err.strip() == "error: --near-threshold must be in (0.0, 1.0], got 1.5"
    )


def test_eval_options_come_from_eval_config(capsys) -> None:
    from sciinstruct.evaluate.runner import EvalConfig

    declared = {f.name: f for f in dataclasses.fields(EvalConfig)}
    command = click_command("eval")
    # eval's batch is what the engine keeps in flight: `--batch-size` is the engine's
    assert option(command, "--batch-size").default is None
    assert option(command, "--samples").default == declared["samples"].default == 1
    assert "majority vote and pass@k" in option(command, "--samples").help
    assert "judged benchmarks" in option(command, "--judge-backend").help  # JudgeSpec's help
    assert main(["eval", "--help"]) == 0
    text = re.sub(r"[│\s]+", " ", capsys.readouterr().out)
    assert "Few-shot examples before each question" in text  # EvalConfig.shots' declared help
    source = (Path(__file__).parents[1] / "src/sciinstruct/cli/evaluate.py").read_text()
    assert "min=0" not in source and "--samples" not in source


def test_engine_options_are_declared_once_for_every_stage_and_the_judge() -> None:
    from sciinstruct.llm import EngineSpec

    declared = {f.name: f for f in dataclasses.fields(EngineSpec)}
    for name in ("annotate", "critique", "eval"):
        command = click_command(name)
        assert option(command, "--backend").default == declared["name"].default == "embedded"
        assert option(command, "--concurrency").help.startswith("Backend calls in flight")
        assert option(command, "--base-url").multiple  # repeat, or separate by commas
        assert option(command, "--api-key-env").help == declared["api_key_env"].metadata["help"]
    annotate = click_command("annotate")
    assert (
        "-j" in option(annotate, "--concurrency").opts
        and "-b" in option(annotate, "--backend").opts
    )
    assert "-b" not in option(click_command("eval"), "--backend").opts  # eval's -b: --benchmark
    # the judge is the same spec under the `judge_` prefix, without short forms
    assert option(annotate, "--judge-backend").default is None
    assert option(annotate, "--judge-concurrency").opts == ["--judge-concurrency"]
    assert option(annotate, "--judge-api-key-env").help == declared["api_key_env"].metadata["help"]


def test_engine_flags_and_recipe_keys_build_the_same_spec(tmp_path: Path) -> None:
    from sciinstruct.cli.options import build_config, cli_fields, cli_value
    from sciinstruct.llm import EngineSpec
    from sciinstruct.recipe import load_recipe

    fields = {f.flag: f for f in cli_fields(EngineSpec)}
    given = {
        "name": "openai",
        "base_url": cli_value(fields["--base-url"], ["http://a:1/v1,http://b:2/v1"]),
        "concurrency": 64,
        "options": cli_value(fields["--option"], ["timeout=30"]),
    }
    from_flags = build_config(EngineSpec, given)
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "backend:\n  name: openai\n  base_url: [http://a:1/v1, http://b:2/v1]\n"
        "  concurrency: 64\n  options: {timeout: 30}\n"
    )
    assert load_recipe(recipe).backend == from_flags
    assert from_flags.base_url == ("http://a:1/v1", "http://b:2/v1")
    assert from_flags.backend_options() == {
        "timeout": 30, "base_url": ["http://a:1/v1", "http://b:2/v1"], "concurrency": 64,
    }  # fmt: skip


def test_eval_bound_on_the_command_line(tmp_path: Path, capsys) -> None:
    base = ["eval", "--benchmark", "mini", "--out", str(tmp_path)]
    assert main([*base, "--samples", "0"]) == 2
    assert capsys.readouterr().err.strip() == "error: --samples must be >= 1, got 0"
    assert main([*base, "--top-p", "1.5"]) == 2
    assert capsys.readouterr().err.strip() == "error: --top-p must be in (0.0, 1.0], got 1.5"


def test_eval_flag_and_recipe_key_set_the_same_field() -> None:
    from sciinstruct.cli.options import build_config
    from sciinstruct.evaluate.runner import EvalConfig
    from sciinstruct.settings import build

    from_flags = build_config(EvalConfig, {"shots": 2, "judge.model": "m"})
    from_recipe = build(EvalConfig, {"shots": "2", "judge": {"model": "m"}})
    assert from_flags == from_recipe
    assert (from_flags.shots, from_flags.judge.model) == (2, "m")


def test_grade_options_come_from_grade_options_and_the_judge_spec(capsys) -> None:
    from sciinstruct.cli.grade import GradeOptions

    command = click_command("grade")
    assert option(command, "--type").default == GradeOptions().answer_type == "auto"
    assert option(command, "-t") is option(command, "--type")
    assert "repeats a quantity it gives" in option(command, "--question").help
    assert main(["grade", "--help"]) == 0
    text = re.sub(r"[│\s]+", " ", capsys.readouterr().out)
    assert "--judge-base-url" in text and "OpenAI-compatible server URL" in text
    assert "--judge-cache" in text


def test_grade_bounds_on_the_command_line(capsys) -> None:
    assert main(["grade", "1", "1", "--rtol", "-0.5"]) == 2
    assert capsys.readouterr().err.strip() == "error: --rtol must be >= 0, got -0.5"
    assert main(["grade", "1", "1", "--workers", "0"]) == 2
    assert capsys.readouterr().err.strip() == "error: --workers must be >= 1, got 0"
    assert main(["grade", "1", "1", "--type", "bogus"]) == 2
    assert "unknown answer type 'bogus'" in capsys.readouterr().err


def test_ingest_options_come_from_ingest_options(tmp_path: Path, capsys) -> None:
    from sciinstruct.ingest import IngestOptions

    command = click_command("ingest")
    assert option(command, "--format").default == IngestOptions().format == "auto"
    assert "Split of a Hugging Face DatasetDict" in option(command, "--split").help
    assert "One of: auto, jsonl, json, csv, parquet, hf" in option(command, "--format").help
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"question": "1+1?", "answer": "2"}\n', encoding="utf-8")
    assert main(["ingest", str(questions), "--run", str(tmp_path / "r"), "--format", "xls"]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: --format must be one of auto, jsonl, json, csv, parquet, hf; got 'xls'"
    )
    assert not (tmp_path / "r").exists()  # refused before the run directory is made


def test_the_judge_is_the_engine_spec_under_the_judge_prefix(tmp_path: Path) -> None:
    from sciinstruct.annotate import AnnotateConfig
    from sciinstruct.cli.options import build_config
    from sciinstruct.errors import InputError
    from sciinstruct.grading.verifier import JudgeSpec
    from sciinstruct.recipe import load_recipe

    url = "http://127.0.0.1:8000/v1"
    flags = build_config(AnnotateConfig, {"judge.base_url": [url], "judge.concurrency": 4})
    assert flags.judge == JudgeSpec(name="openai", base_url=(url,), concurrency=4)
    assert flags.judge.backend_options() == {"base_url": url, "concurrency": 4}
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"annotate:\n  judge: {{name: openai, base_url: {url}, concurrency: 4}}\n")
    assert load_recipe(recipe).annotate.judge == flags.judge
    # `backend:`, the judge's key before it was an engine spec, is still read
    recipe.write_text(f"annotate:\n  judge: {{backend: openai, base_url: {url}, concurrency: 4}}\n")
    assert load_recipe(recipe).annotate.judge == flags.judge
    recipe.write_text("annotate:\n  judge: {backend: openai, name: embedded}\n")
    with pytest.raises(InputError, match=r"annotate.judge.backend'?: give `name` only"):
        load_recipe(recipe)
    assert JudgeSpec().build() is None  # an empty section: no judge
