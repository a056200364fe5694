"""`sciinstruct shards split|annotate|merge|status`: a run annotated by several drivers.

A shard is a run directory (`RUN/shards/003-of-008`): on its own machine, `sciinstruct annotate
--run RUN/shards/003-of-008 ...` drives it, and `sciinstruct shards merge --run RUN` makes the
shards one run again. `shards annotate` does all three in one command, the shards one after
another here or side by side as Ray tasks (`--executor ray`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from sciinstruct.distributed import ExecutorConfig
    from sciinstruct.rundir import RunDir
    from sciinstruct.shards import MergeResult

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
    from sciinstruct.shards import split, status

    split(RunDir(run), shards)
    for row in status(RunDir(run)):
        console.print(
            f"{run / 'shards' / row['shard']}  {row['questions']} questions", highlight=False
        )


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
    from sciinstruct.cli.options import build_config, config_options
    from sciinstruct.distributed import ExecutorConfig

    @shards_app.command(
        "annotate",
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    )
    # `actors` is left out: a shard's task holds its engine itself, not through actors
    @config_options(ExecutorConfig, into="executor_given", exclude=("actors",))
    def annotate_command(
        executor_given: dict[str, Any],
        cfg__context: typer.Context,  # the name config_options shares: its extra args are ours
        run: Path = RUN,
        shards: int = SHARDS,
    ) -> None:
        """Split RUN into N shards, run `sciinstruct annotate` on every shard and merge them. Every other option is annotate's (`sciinstruct annotate --help`: backend, model, samples, ...) and goes to each shard's annotate. With `--executor ray` each shard is a Ray task, side by side, with its own engine and lock. Re-running resumes the unfinished shards."""
        from sciinstruct.rundir import RunDir

        args = list(cfg__context.args)
        _check_annotate_args(app, args)  # a typo is refused here, not once per shard
        spec = build_config(ExecutorConfig, executor_given)
        result = annotate_shards_command(RunDir(run), shards, args, spec)
        _print_merge(result, RunDir(run))

    app.add_typer(shards_app, name="shards")


def _check_annotate_args(app: typer.Typer, args: list[str]) -> None:
    """Parse the shards' annotate options once, up front: a bad option or value is one error
    before any shard starts; a QUESTIONS file is refused (a shard would ingest all of it)."""
    from sciinstruct.errors import InputError

    annotate = typer.main.get_command(app).commands["annotate"]  # type: ignore[attr-defined]
    try:
        ctx = annotate.make_context("annotate", ["--run", ".", *args])
    except Exception as exc:  # typer's own copy of click's usage errors
        if not hasattr(exc, "format_message"):
            raise
        raise InputError(f"{exc.format_message()} (an option of `sciinstruct annotate`)") from None
    with ctx:
        if ctx.params.get("questions") is not None:
            raise InputError(
                f"got QUESTIONS {ctx.params['questions']}: ingest them into the run first "
                "(`sciinstruct ingest FILE --run RUN`), then split",
                field="questions",
            )


def annotate_shards_command(
    run: RunDir, count: int, args: list[str], spec: ExecutorConfig
) -> MergeResult:
    """`sciinstruct annotate --run SHARD ARGS` for every shard (here in turn, or as Ray tasks)
    and the merge; the library form with an engine factory is `shards.annotate_shards`."""
    from sciinstruct.distributed import open_executor
    from sciinstruct.errors import InputError
    from sciinstruct.shards import drive_shards

    if not run.questions.exists():
        raise InputError("no questions: run `sciinstruct ingest` first", file=str(run.questions))
    with open_executor(spec) as executor:
        return drive_shards(
            run, count, annotate_shard_command, lambda s: (str(s.root.resolve()), args), executor
        )


def annotate_shard_command(job: tuple[str, list[str]]) -> int:
    """One shard's `sciinstruct annotate`, where the job runs (a Ray worker: its host's lock).
    Its errors are raised, not printed, so the driver can name the shard that failed."""
    import logging

    from sciinstruct.cli.main import app
    from sciinstruct.errors import SciInstructError
    from sciinstruct.log import is_quiet, logger
    from sciinstruct.rundir import RunDir
    from sciinstruct.runlock import LEASE_S
    from sciinstruct.shards import record_driver

    root, args = job
    shard = RunDir(root)
    # the command's own verbosity: the root callback of a nested call would reset it
    verbosity = (
        ["--quiet"] if is_quiet() else ["--verbose"] if logger.level == logging.DEBUG else []
    )
    # A retried task waits out its dead predecessor's lock (another host's: one lease).
    with shard.lock("annotate", wait_s=2 * LEASE_S):
        code = app(args=[*verbosity, "annotate", "--run", root, *args], standalone_mode=False)
        if code not in (None, 0):
            raise SciInstructError(f"annotate exited with code {code}")
        record_driver(shard)
    return 0


def _print_merge(result: MergeResult, run: RunDir) -> None:
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
