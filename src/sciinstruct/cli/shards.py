"""`sciinstruct shards split|annotate|merge|status`: a run annotated by several drivers.

A shard is a run directory (`RUN/shards/003-of-008`): on its own machine, `sciinstruct annotate
--run RUN/shards/003-of-008 ...` drives it, and `sciinstruct shards merge --run RUN` makes the
shards one run again. `shards annotate` does all three in one command, the shards one after
another here or side by side as Ray tasks (`--executor ray`).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import typer

from sciinstruct.cli.annotate import (
    API_KEY_ENV,
    BACKEND,
    BASE_URL,
    BATCH_SIZE,
    CONCURRENCY,
    HTTP_BACKENDS,
    MODEL,
    OPTION,
    default_throughput,
    parse_options,
    stage_engine,
)

RUN = typer.Option(..., "--run", "-r", help="The run directory (its shards are under RUN/shards/).")
SHARDS = typer.Option(..., "--shards", "-n", min=1, help="Number of shards.")

shards_app = typer.Typer(
    help="Split a run into shards, each annotated by its own driver (own machine, own lock), "
    "and merge them back into one run.",
    no_args_is_help=True,
)


@shards_app.command("split")
def split_command(run: Path = RUN, shards: int = SHARDS) -> None:
    """Partition RUN/questions.jsonl into RUN/shards/NNN-of-MMM/ by a hash of each question id; then annotate each shard with `sciinstruct annotate --run RUN/shards/NNN-of-MMM`. Splitting again adds new questions to their shards."""
    from sciinstruct.log import console
    from sciinstruct.rundir import RunDir
    from sciinstruct.shards import split

    for shard in split(RunDir(run), shards):
        console.print(f"{shard.root}  {_lines(shard.questions)} questions", highlight=False)


@shards_app.command("merge")
def merge_command(run: Path = RUN) -> None:
    """Rebuild RUN's attempts, response cache, stats and config from its shards (idempotent; run it again after unfinished shards finish)."""
    from sciinstruct.rundir import RunDir
    from sciinstruct.shards import merge

    _print_merge(merge(RunDir(run)), RunDir(run))


@shards_app.command("status")
def status_command(run: Path = RUN) -> None:
    """Each shard's questions, attempts, solved count and the driver holding its lock."""
    from rich.table import Table

    from sciinstruct.log import console
    from sciinstruct.rundir import RunDir
    from sciinstruct.shards import status

    table = Table(title=f"shards of {run}")
    for name in ("shard", "questions", "attempts", "solved", "driver"):
        table.add_column(name, justify="left" if name in ("shard", "driver") else "right")
    for row in status(RunDir(run)):
        holder = row["holder"]
        driver = "-"
        if holder:
            driver = f"pid {holder['pid']} on {holder['host']}" + (
                "" if holder["alive"] else " (dead)"
            )
        solved = "-" if row["solved"] is None else str(row["solved"])
        table.add_row(row["shard"], str(row["questions"]), str(row["attempts"]), solved, driver)
    console.print(table)


def register(app: typer.Typer) -> None:
    from sciinstruct.annotate import AnnotateConfig
    from sciinstruct.cli.options import build_config, config_options
    from sciinstruct.distributed import ExecutorConfig

    @shards_app.command("annotate")
    @config_options(AnnotateConfig)
    @config_options(ExecutorConfig, into="executor_given")
    def annotate_command(
        given: dict[str, Any],
        executor_given: dict[str, Any],
        run: Path = RUN,
        shards: int = SHARDS,
        backend: str = BACKEND,
        model: str = MODEL,
        base_url: list[str] = BASE_URL,
        api_key_env: str = API_KEY_ENV,
        option: list[str] = OPTION,
        batch_size: int = BATCH_SIZE,
        concurrency: int = CONCURRENCY,
    ) -> None:  # fmt: skip
        """Split RUN into N shards, annotate every shard (with `--executor ray`: each shard a Ray task with its own engine and lock, side by side) and merge them. Re-running resumes every unfinished shard."""
        from sciinstruct.distributed import open_executor
        from sciinstruct.errors import InputError
        from sciinstruct.llm import make_backend
        from sciinstruct.rundir import RunDir
        from sciinstruct.shards import annotate_shards

        rundir = RunDir(run)
        if not rundir.questions.exists():  # say so before loading a model
            raise InputError(
                "no questions: run `sciinstruct ingest` first", file=str(rundir.questions)
            )
        spec = build_config(ExecutorConfig, executor_given)
        if not spec.is_ray:  # one engine here, shared by the shards in turn
            engine_options = dict(
                backend=backend, model=model, base_url=base_url, api_key_env=api_key_env,
                option=option, batch_size=batch_size, concurrency=concurrency,
            )  # fmt: skip
            with stage_engine(AnnotateConfig, given, spec, **engine_options) as (
                config, _prompts, engine, _runner,
            ):  # fmt: skip
                result = annotate_shards(rundir, shards, lambda: engine, config, close_engine=False)
            _print_merge(result, rundir)
            return
        # On Ray each shard's task builds its own engine where it runs (a server client, or a
        # local model on the task's GPU): the factory travels, not an engine.
        throughput = default_throughput(backend, batch_size, concurrency)
        config = build_config(
            AnnotateConfig,
            {**given, "batch_size": throughput.batch_size, "concurrency": throughput.concurrency},
        )
        config.prompts()  # checked before any task starts
        kwargs = parse_options(option)
        if base_url:
            kwargs["base_url"] = ",".join(base_url)
        if api_key_env:
            kwargs["api_key_env"] = api_key_env
        if backend in HTTP_BACKENDS:
            kwargs.setdefault("concurrency", config.concurrency)
        make_engine = functools.partial(make_backend, backend, model, **kwargs)
        with open_executor(spec) as executor:
            result = annotate_shards(rundir, shards, make_engine, config, executor)
        _print_merge(result, rundir)

    app.add_typer(shards_app, name="shards")


def _print_merge(result: Any, run: Any) -> None:
    from sciinstruct.log import console

    per_shard = ", ".join(str(n) for n in result.per_shard)
    console.print(
        f"merged {result.shards} shards: {result.attempts} attempts ({per_shard}) into "
        f"{run.attempts}",
        highlight=False,
    )
    if result.unfinished:
        console.print(
            f"not finished yet: {', '.join(result.unfinished)}; merge again when they are",
            highlight=False,
        )
    if result.skipped_lines:
        console.print(f"skipped {result.skipped_lines} cut-off lines of killed shards")


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0
