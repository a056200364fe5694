"""`sciinstruct eval`: evaluate a model on registered benchmarks or a question file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from sciinstruct.cli.options import build_config
from sciinstruct.distributed import ExecutorConfig
from sciinstruct.errors import InputError
from sciinstruct.log import console


def _backend(
    name: str,
    model: str | None,
    base_url: str | None,
    concurrency: int | None,
    cache: Path | None,
    executor: Any = None,
) -> Any:
    """A backend by name (on `executor`'s engines when given), behind the response cache
    unless `cache` is None."""
    from sciinstruct.distributed import LocalExecutor
    from sciinstruct.llm import CachedBackend

    options: dict[str, Any] = {}
    if base_url:
        options["base_url"] = [u for u in base_url.split(",") if u] if "," in base_url else base_url
    if concurrency:
        options["concurrency"] = concurrency
    if options and name != "openai":
        raise InputError(
            f"--base-url and --concurrency apply to the openai backend, not {name!r}",
            field="backend",
        )
    backend = (executor or LocalExecutor()).backend(name, model, options)
    return CachedBackend(backend, cache) if cache else backend


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
    executor_given: dict[str, Any],
    benchmark: list[str] = typer.Option(
        [],
        "--benchmark",
        "-b",
        help="A registered benchmark name, a .yaml definition, or a .jsonl/.csv/.parquet of "
        "questions. Repeat for several.",
    ),
    backend: str = typer.Option(
        "embedded", help="embedded, openai, transformers, vllm or llamacpp."
    ),
    model: str | None = typer.Option(None, help="Model name, path or directory for the backend."),
    out: Path | None = typer.Option(
        None, help="Output directory: results.json, summary.md, predictions.jsonl."
    ),
    base_url: str | None = typer.Option(
        None, help="openai backend: server URL(s), comma-separated."
    ),
    concurrency: int | None = typer.Option(None, min=1, help="openai backend: requests in flight."),
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
    from sciinstruct.evaluate.runner import EvalConfig, run_eval

    config = build_config(EvalConfig, given)
    spec = config.judge
    cache = None if no_cache else out / "cache.sqlite"
    out.mkdir(parents=True, exist_ok=True)
    from sciinstruct.distributed import open_executor

    where = build_config(ExecutorConfig, executor_given)
    with open_executor(where) as runner:
        generator = _backend(backend, model, base_url, concurrency, cache, runner)
        judge = None
        if spec.backend or spec.model or spec.base_url:
            judge = _backend(spec.backend or backend, spec.model, spec.base_url, None, cache)
        grade_judge = spec.verifier(judge) if judge is not None else None
        try:
            results = run_eval(
                benchmark,
                generator,
                out,
                config,
                data_dir=data_dir,
                judge=judge,
                grade_judge=grade_judge,
                settings={
                    "backend": backend,
                    "model": model,
                    "base_url": base_url,
                    "data_dir": str(data_dir) if data_dir else None,
                    "executor": where.to_dict(),
                },
                grading=runner.grade,
            )
        finally:
            generator.close()
            if judge is not None:
                judge.close()
    console.print((out / "summary.md").read_text(encoding="utf-8"), highlight=False, markup=False)
    if results["accuracy"] is not None:
        console.print(
            f"accuracy {100 * results['accuracy']:.1f}% -> {out / 'results.json'}", highlight=False
        )


def register(app: typer.Typer) -> None:
    from sciinstruct.cli.options import config_options
    from sciinstruct.evaluate.runner import EvalConfig

    command = config_options(ExecutorConfig, into="executor_given")(eval_command)
    app.command("eval")(config_options(EvalConfig)(command))
