"""`sciinstruct eval`: evaluate a model on registered benchmarks or a question file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from sciinstruct.cli.options import build_config
from sciinstruct.distributed import ExecutorConfig
from sciinstruct.errors import InputError
from sciinstruct.log import console


def _list_benchmarks(data_dir: Path | None) -> None:
    from rich.table import Table

    from sciinstruct.benchmarks.loaders import data_dir as resolve_root
    from sciinstruct.benchmarks.loaders import resolve_path
    from sciinstruct.benchmarks.registry import available, load_spec

    root = resolve_root(data_dir)
    table = Table("benchmark", "mode", "data", "description", show_lines=False)
    for name, path in available().items():
        spec = load_spec(path)
        try:
            found = str(resolve_path(spec, root))
        except InputError:
            found = f"[dim]missing: {root / (spec.source.path or name)}[/]"
        table.add_row(name, spec.mode, found, spec.description)
    console.print(table)


def eval_command(
    given: dict[str, Any],
    engine_given: dict[str, Any],
    executor_given: dict[str, Any],
    benchmark: list[str] = typer.Option(
        [],
        "--benchmark",
        "-b",
        help="A registered benchmark name, a .yaml definition, or a .jsonl/.csv/.parquet of "
        "questions. Repeat for several.",
    ),
    out: Path | None = typer.Option(
        None, help="Output directory: results.json, summary.md, predictions.jsonl."
    ),
    data_dir: Path | None = typer.Option(
        None,
        help="Where benchmark data lives (default $SCIINSTRUCT_DATA or ~/.cache/sciinstruct/data).",
    ),
    no_cache: bool = typer.Option(
        False, "--no-cache", help="Do not read or write OUT/cache.sqlite."
    ),
    list_: bool = typer.Option(
        False, "--list", help="List the registered benchmarks and where their data is."
    ),
) -> None:
    """Evaluate a model on science and math benchmarks, graded by the project's grader.

    Writes OUT/results.json (accuracy per benchmark, per subject and overall, with 95% intervals),
    OUT/summary.md and OUT/predictions.jsonl (every prompt, response, extracted answer and verdict).
    """
    if list_:
        _list_benchmarks(data_dir)
        return
    if not benchmark:
        raise InputError(
            "give at least one --benchmark (see `sciinstruct eval --list`)", field="benchmark"
        )
    if out is None:
        raise InputError("give an output directory with --out", field="out")
    from sciinstruct.evaluate import EvalConfig
    from sciinstruct.llm import EngineSpec
    from sciinstruct.stage_runner import StageRunner

    config = build_config(EvalConfig, given)
    engine = build_config(EngineSpec, engine_given)
    where = build_config(ExecutorConfig, executor_given)
    with StageRunner(out, where) as runner:
        results = runner.evaluate(
            benchmark, engine, out, config, cache=not no_cache, data_dir=data_dir
        )
    console.print((out / "summary.md").read_text(encoding="utf-8"), highlight=False, markup=False)
    if results["accuracy"] is not None:
        console.print(
            f"accuracy {100 * results['accuracy']:.1f}% -> {out / 'results.json'}", highlight=False
        )


def register(app: typer.Typer) -> None:
    from sciinstruct.cli.options import config_options
    from sciinstruct.evaluate import EvalConfig
    from sciinstruct.llm import EngineSpec

    # `-b` is --benchmark here; a batch is what the engine keeps in flight (EngineSpec)
    command = config_options(EngineSpec, into="engine_given", shorts=False)(eval_command)
    command = config_options(ExecutorConfig, into="executor_given")(command)
    app.command("eval")(config_options(EvalConfig, exclude=("batch_size",))(command))
