"""`sciinstruct` entry point.

Each command lives in its own module under `sciinstruct.cli` and exposes `register(app)`; heavy
imports (torch, llama.cpp, RDKit) stay inside the command functions so `--help` is instant.
"""

from __future__ import annotations

import importlib
import logging
import sqlite3
import sys

import typer
from rich.markup import escape

from sciinstruct import __version__
from sciinstruct.errors import EXIT_INTERRUPTED, SciInstructError, storage_error
from sciinstruct.log import console, err_console, set_verbosity

# command name -> module under sciinstruct.cli, in the order of the flow (docs/architecture.md)
COMMANDS: dict[str, str] = {
    "ingest": "ingest",
    "annotate": "annotate",
    "shards": "shards",
    "critique": "critique",
    "filter": "curation",
    "curate": "curation",
    "export": "curation",
    "train": "train",
    "eval": "evaluate",
    "grade": "grade",
    "report": "curation",
    "tasks": "tasks",
    "serve": "serve",
    "serve-grader": "serve_grader",
    "view": "view",
    "override": "view",
    "run": "run",
    "demo": "run",
}

app = typer.Typer(
    name="sciinstruct",
    help="Turn science and math questions with reference answers into verified, "
    "self-reflectively annotated training data; train and evaluate models on it.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        console.print(f"sciinstruct {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug detail to stderr."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only errors; no progress bars."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    set_verbosity(verbose=verbose, quiet=quiet)


def _register_all() -> None:
    seen: set[str] = set()
    for module_name in COMMANDS.values():
        if module_name in seen:
            continue
        seen.add(module_name)
        try:
            module = importlib.import_module(f"sciinstruct.cli.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"sciinstruct.cli.{module_name}":
                raise
            continue  # that command is not built yet
        module.register(app)


_register_all()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; SciInstructError becomes one line on stderr and its exit code."""
    try:
        # With standalone_mode=False click returns a command's typer.Exit code instead of exiting.
        code = app(args=argv, standalone_mode=False)
    except SciInstructError as exc:
        # escape: an error may quote model output or paths with [brackets] that rich would eat
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        return exc.exit_code
    except (OSError, sqlite3.Error) as exc:
        refused = storage_error(exc)  # disk full, read-only run directory: one line, resumable
        if refused is None:
            raise
        err_console.print(f"[bold red]error:[/] {escape(str(refused))}", highlight=False)
        return refused.exit_code
    except KeyboardInterrupt:
        err_console.print("interrupted: finished work is saved; run the same command to resume")
        return EXIT_INTERRUPTED
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        return 1
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            return exc.exit_code
        logging.getLogger("sciinstruct").debug("unexpected error", exc_info=True)
        raise
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
