"""Recipes: defaults, overrides, and typos caught with a hint."""

from __future__ import annotations

from pathlib import Path

import pytest

from sciinstruct.errors import InputError
from sciinstruct.recipe import load_recipe, resolve_path


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
    assert recipe.backend.options == {"base_url": "http://127.0.0.1:8000/v1"}
    assert recipe.train.max_steps == 5
    assert list(recipe.annotate.stages) == ["cot", "reflect", "hinted"]
    assert recipe.annotate.plan.samples == 3


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
