"""Command-line plumbing of `annotate` and `critique` that needs no model."""

from __future__ import annotations

import pytest

from sciinstruct.cli.annotate import default_throughput, parse_options
from sciinstruct.cli.main import main
from sciinstruct.errors import EXIT_BAD_INPUT, InputError
from sciinstruct.jsonl import write_jsonl
from sciinstruct.rundir import RunDir


def test_backend_options_are_read_as_yaml_scalars():
    options = parse_options(["n_threads=1", "timeout=2.5", "verbose=true", "name=x=y"])
    assert options == {"n_threads": 1, "timeout": 2.5, "verbose": True, "name": "x=y"}
    with pytest.raises(InputError, match="expected KEY=VALUE"):
        parse_options(["n_threads"])


def test_throughput_defaults_follow_the_kind_of_backend():
    assert default_throughput("openai", None, None) == (1, 16)
    assert default_throughput("embedded", None, None) == (16, 1)
    assert default_throughput("openai", 4, 2) == (4, 2)


def test_a_sequence_option_takes_commas_or_repeats():
    from sciinstruct.annotate import AnnotateConfig
    from sciinstruct.cli.options import cli_fields, cli_value

    stages = next(f for f in cli_fields(AnnotateConfig) if f.flag == "--stages")
    assert cli_value(stages, [" cot, hinted ,"]) == ["cot", "hinted"]
    assert cli_value(stages, ["cot", "reflect"]) == ["cot", "reflect"]
    assert cli_value(stages, []) is None


@pytest.mark.parametrize(
    "args",
    [
        ["--option", "n_threads"],
        ["--stages", "cot,think"],
        ["--temperature", "-1"],
        ["--lang", "fr"],
        ["--backend", "gpt"],
    ],
)
def test_bad_arguments_exit_2_before_any_model_loads(tmp_path, args):
    run = RunDir(tmp_path / "run").ensure()
    write_jsonl(run.questions, [{"id": "q", "question": "1 + 1?", "answer": "2"}])
    assert main(["annotate", "--run", str(run.root), *args]) == EXIT_BAD_INPUT
    assert not run.attempts.exists()
