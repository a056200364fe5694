"""Command-line plumbing of `annotate` and `critique` that needs no model."""

from __future__ import annotations

import pytest

from sciinstruct.cli.main import main
from sciinstruct.errors import EXIT_BAD_INPUT, InputError
from sciinstruct.jsonl import write_jsonl
from sciinstruct.rundir import RunDir


def test_backend_options_are_read_as_yaml_scalars():
    from sciinstruct.cli.options import cli_fields, cli_value
    from sciinstruct.llm import EngineSpec

    option = next(f for f in cli_fields(EngineSpec) if f.flag == "--option")
    given = cli_value(option, ["n_threads=1", "timeout=2.5", "verbose=true", "name=x=y"])
    assert given == {"n_threads": 1, "timeout": 2.5, "verbose": True, "name": "x=y"}
    with pytest.raises(InputError, match="--option: expected KEY=VALUE"):
        cli_value(option, ["n_threads"])


def test_throughput_is_the_backends_own_unless_set():
    from sciinstruct.llm import EngineSpec, Throughput

    assert EngineSpec(name="openai").throughput() == Throughput(batch_size=1, concurrency=16)
    # llama.cpp one request at a time takes whole batches; batched, it is driven like a server
    # with every slot busy and one request queued behind each: 2 contexts x 4 slots x 2
    one_at_a_time = EngineSpec(name="llamacpp", options={"slots": 1})
    assert one_at_a_time.throughput() == Throughput(batch_size=16, concurrency=1)
    batched = EngineSpec(name="llamacpp", options={"slots": 4, "parallel": 2})
    assert batched.throughput() == Throughput(batch_size=1, concurrency=16)
    assert EngineSpec(name="openai", batch_size=4, concurrency=2).throughput() == Throughput(4, 2)
    # the server's client keeps as many requests in flight as the stage keeps calls
    assert EngineSpec(name="openai", concurrency=64).backend_options()["concurrency"] == 64
    assert "concurrency" not in EngineSpec(name="llamacpp", concurrency=3).backend_options()


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
