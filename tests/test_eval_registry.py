"""Benchmark definitions: shipped YAML, include/variants, user definitions, typos."""

from __future__ import annotations

import pytest

from sciinstruct.benchmarks.registry import available, get_spec, load_spec
from sciinstruct.errors import InputError

SHIPPED = {
    "gsm8k",
    "math",
    "math500",
    "scibench",
    "scieval",
    "mmlu_science",
    "mmlu_physics",
    "mmlu_chemistry",
    "mmlu_biology",
    "mmlu_math",
    "gpqa",
    "ceval_science",
    "sat_math",
    "mathusereval",
    "sciinstruct_eval",
}


def test_every_shipped_definition_validates():
    names = available()
    assert set(names) >= SHIPPED
    assert not any(name.startswith("_") for name in names)  # bases are not benchmarks
    for name in SHIPPED:
        assert get_spec(name).name == name


def test_variant_inherits_the_base_and_overrides_keys():
    base, variant = get_spec("mmlu_science"), get_spec("mmlu_physics")
    assert variant.subjects == ["physics"] and base.subjects is None
    assert variant.subsets == base.subsets and variant.template == base.template
    assert variant.fewshot == base.fewshot and variant.format == "mmlu"


def test_include_merges_source_key_by_key():
    math500 = get_spec("math500")
    assert math500.source.path == "math500/test.jsonl"
    assert math500.answer_type == "expression" and math500.max_tokens == 1024  # from math.yaml


def test_typo_answers_did_you_mean():
    with pytest.raises(InputError, match=r"did you mean 'scibench'"):
        get_spec("scibnech")


def test_user_definition_in_a_benchmarks_dir(tmp_path, monkeypatch):
    (tmp_path / "my_physics.yaml").write_text(
        "include: {}\nsubjects: [physics]\ndescription: mine\n".format(available()["mmlu_science"])
    )
    monkeypatch.setenv("SCIINSTRUCT_BENCHMARKS", str(tmp_path))
    spec = get_spec("my_physics")
    assert (spec.name, spec.format, spec.subjects) == ("my_physics", "mmlu", ["physics"])


def test_unknown_key_is_an_error_with_its_field(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("format: gsm8k\nsource: {path: x.jsonl}\ntemplate: '{question}'\ntempalte: x\n")
    with pytest.raises(InputError) as info:
        load_spec(path)
    assert info.value.field == "tempalte"


def test_include_cycle_is_reported(tmp_path):
    (tmp_path / "a.yaml").write_text("include: b.yaml\n")
    (tmp_path / "b.yaml").write_text("include: a.yaml\n")
    with pytest.raises(InputError, match="include cycle: a.yaml -> b.yaml -> a.yaml"):
        load_spec(tmp_path / "a.yaml")
