"""Recipes: defaults, overrides, and typos caught with a hint."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sciinstruct.errors import InputError
from sciinstruct.recipe import load_recipe
from sciinstruct.settings import resolve_path


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "r.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_and_dotted_overrides(tmp_path: Path) -> None:
    recipe = load_recipe(
        write(
            tmp_path,
            "run_dir: out\nbackend:\n  name: openai\n  options: {base_url: 'http://127.0.0.1:8000/v1'}\n",
        ),
        overrides={"train.max_steps": 5, "limit": 10, "annotate.plan.samples": 3},
    )
    assert (recipe.run_dir, recipe.backend.name, recipe.limit) == ("out", "openai", 10)
    # the old place of base_url, read as the spec's own key
    assert recipe.backend.base_url == ("http://127.0.0.1:8000/v1",)
    assert recipe.backend.options == {}
    assert recipe.train.max_steps == 5
    assert list(recipe.annotate.stages) == ["cot", "reflect", "hinted"]
    assert recipe.annotate.plan.samples == 3


def test_engine_keys_once_in_options_are_read_and_a_stages_throughput_is_refused(
    tmp_path: Path,
) -> None:
    old = load_recipe(
        write(tmp_path, "backend: {name: openai, options: {concurrency: 64, timeout: 9}}\n")
    )
    assert (old.backend.concurrency, old.backend.options) == (64, {"timeout": 9})
    with pytest.raises(InputError, match=r"concurrency given twice, 8 and options.concurrency 64"):
        load_recipe(
            write(tmp_path, "backend: {name: openai, concurrency: 8, options: {concurrency: 64}}\n")
        )
    with pytest.raises(
        InputError, match=r"field 'annotate.concurrency': set `backend.concurrency` instead"
    ):
        load_recipe(write(tmp_path, "annotate: {concurrency: 64}\n"))
    with pytest.raises(InputError, match=r"set `eval.backend.batch_size` instead"):
        load_recipe(write(tmp_path, "eval: {config: {batch_size: 4}}\n"))
    with pytest.raises(InputError, match=r"base-url applies to the openai backend, not 'llamacpp'"):
        load_recipe(write(tmp_path, "backend: {name: llamacpp, base_url: http://x:1/v1}\n"))
    # eval's engine: a spec, or a backend's name as before
    assert (
        load_recipe(write(tmp_path, "eval: {backend: llamacpp}\n")).eval.backend.name == "llamacpp"
    )
    spec = load_recipe(write(tmp_path, "eval: {backend: {name: llamacpp, batch_size: 4}}\n"))
    assert (spec.eval.backend.name, spec.eval.backend.batch_size) == ("llamacpp", 4)


def test_unknown_key_says_did_you_mean(tmp_path: Path) -> None:
    with pytest.raises(
        InputError, match=r"field 'annotate.plan.sample': unknown key \(did you mean 'samples'\?\)"
    ):
        load_recipe(write(tmp_path, "annotate:\n  plan:\n    sample: 2\n"))


def test_bad_values_and_bad_yaml_are_located(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"field 'stages': unknown stage\(s\) \['anotate'\]"):
        load_recipe(write(tmp_path, "stages: [ingest, anotate]\n"))
    with pytest.raises(InputError, match=r"r\.yaml:3: invalid YAML: expected .,. or .\]."):
        load_recipe(write(tmp_path, "a: 1\nb: [unclosed\n"))


def test_package_paths_resolve_inside_the_package() -> None:
    path = resolve_path("sciinstruct:records.py")
    assert path.name == "records.py" and path.exists()


def test_empty_sections_strings_for_lists_and_section_in_errors(tmp_path: Path) -> None:
    recipe = load_recipe(write(tmp_path, "critique:\nannotate:\n  stages: cot\n"))
    assert recipe.critique.max_tokens == 512  # the stage's own default
    assert list(recipe.annotate.stages) == ["cot"]
    with pytest.raises(InputError, match=r"r\.yaml field 'train"):
        load_recipe(write(tmp_path, "train:\n  batch_size: 0\n"))


def test_eval_takes_one_file_or_several_and_benchmark_names(tmp_path: Path) -> None:
    from sciinstruct.flow import Flow

    (tmp_path / "mine.jsonl").write_text("")
    one = load_recipe(write(tmp_path, "eval:\n  questions: mine.jsonl\n"))
    assert one.eval.questions == ["mine.jsonl"]
    several = load_recipe(
        write(
            tmp_path,
            "eval:\n  questions: [mine.jsonl, 'sciinstruct:data/questions/family_heldout.jsonl', math500]\n",
        )
    )
    flow = Flow(several, base=tmp_path)
    targets = flow.eval_targets()
    assert targets[0] == tmp_path / "mine.jsonl" and targets[1].name == "family_heldout.jsonl"
    assert targets[2] == "math500"  # a registry name stays a name
    assert flow.heldout_files() == targets[:2]  # only files are kept out of generated training data


def test_run_prints_one_line_per_benchmark_with_the_paired_test() -> None:
    from sciinstruct.cli.run import before_after_lines

    row = {"accuracy": 0.2, "correct": 30, "n": 150, "ci95": [0.14, 0.27]}
    summary = {
        "base": {"by_benchmark": {"family_heldout": row}},
        "tuned": {"by_benchmark": {"family_heldout": {**row, "accuracy": 0.4, "correct": 60}}},
        "paired": {"family_heldout": {"gained": 35, "lost": 5, "p_value": 1.1e-6}},
    }
    assert before_after_lines(summary) == [
        "held-out family_heldout: base 30/150 (20.0%) -> tuned 60/150 (40.0%); "
        "35 gained, 5 lost, McNemar p = 1.1e-06"
    ]
    assert before_after_lines({}) == []


def test_the_base_model_has_its_own_engine_only_where_one_is_named(tmp_path: Path) -> None:
    plain = load_recipe(write(tmp_path, "eval:\n  backend: transformers\n"))
    assert not plain.eval.base_backend.configured  # both models on eval.backend
    demo = load_recipe("sciinstruct:recipes/demo.yaml")
    assert demo.eval.backend.name == "embedded"  # llama.cpp: base GGUF, and + LoRA for tuned
    assert not demo.eval.base_backend.configured  # the demo compares models on one engine
    fast = load_recipe("sciinstruct:recipes/demo.yaml", {"eval.base_backend.name": "embedded"})
    assert (fast.eval.base_backend.name, fast.eval.base_backend.model) == ("embedded", None)


@pytest.mark.parametrize(
    ("stats", "says"),
    [
        ({"annotate": {"solved_total": 0, "questions": 6}}, "annotate solved none of its 6"),
        ({"annotate": {"solved_total": 3, "questions": 6}, "curate": {"kept_samples": 0}},
         "curation kept 0 sample(s)"),
    ],
)  # fmt: skip
def test_an_empty_export_says_why_nothing_can_be_trained(
    tmp_path: Path, stats: dict, says: str
) -> None:
    from sciinstruct.flow import Flow

    flow = Flow(load_recipe(write(tmp_path, "run_dir: run\n")), base=tmp_path)
    for section, values in stats.items():
        flow.run.update_stats(section, values)
    flow.run.export_file("sft").parent.mkdir(parents=True, exist_ok=True)
    flow.run.export_file("sft").write_text("")
    with pytest.raises(InputError, match=re.escape(f"no training rows: {says}")) as raised:
        flow.stage_train()
    assert "To fix:" in str(raised.value) and "sft.jsonl" in str(raised.value)
