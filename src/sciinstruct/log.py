"""Console output and logging: results to stdout, progress and messages to stderr."""

from __future__ import annotations

import logging

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)
logger = logging.getLogger("sciinstruct")

_state = {"quiet": False}


def quiet_libraries() -> None:
    """Keep the terminal for our own progress: no per-file progress bars or advisory warnings
    from transformers and datasets (their errors still show). Set before they are imported."""
    import os
    import warnings

    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    warnings.filterwarnings("ignore", category=FutureWarning, module="transformers")


def set_verbosity(*, verbose: bool = False, quiet: bool = False) -> None:
    """`--verbose` logs debug detail, `--quiet` only errors and no progress bars."""
    _state["quiet"] = quiet
    if not verbose:
        quiet_libraries()
    level = logging.DEBUG if verbose else logging.ERROR if quiet else logging.INFO
    logger.setLevel(level)
    if not logger.handlers:
        handler = RichHandler(console=err_console, show_path=False, show_time=False)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.propagate = False


def is_quiet() -> bool:
    return _state["quiet"]


def progress() -> Progress:
    """A rich progress bar on stderr, disabled under --quiet or when stderr is not a terminal."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        disable=is_quiet(),
        transient=False,
    )
