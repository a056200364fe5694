"""Errors a user can act on: which file, which line, which field, what was expected.

The CLI turns these into one line on stderr and an exit code scripts can rely on:
0 success, 1 the work failed, 2 bad input or usage, 3 an optional dependency is missing,
130 interrupted.
"""

from __future__ import annotations

import errno
from collections.abc import Iterable

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_MISSING_DEPENDENCY = 3
EXIT_INTERRUPTED = 130


class SciInstructError(Exception):
    """Base class; `exit_code` is what the CLI exits with."""

    exit_code = EXIT_FAILED


class InputError(SciInstructError):
    """Bad input data or arguments, located as precisely as we can."""

    exit_code = EXIT_BAD_INPUT

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.file, self.line, self.field, self.reason = file, line, field, message
        where = ""
        if file:
            where = file + (f":{line}" if line is not None else "")
        if field:
            where = f"{where} field '{field}'" if where else f"field '{field}'"
        super().__init__(f"{where}: {message}" if where else message)


class MissingDependencyError(SciInstructError):
    """An optional heavy part is not installed; the message carries the exact install line."""

    exit_code = EXIT_MISSING_DEPENDENCY

    def __init__(self, what: str, install: str) -> None:
        self.install = install
        super().__init__(f"{what} is not installed: run `{install}`")


_STORAGE_ERRNOS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file size limit reached",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
}
_SQLITE_STORAGE = (
    "database or disk is full",
    "attempt to write a readonly database",
    "unable to open database file",
    "disk i/o error",
)


def storage_error(exc: BaseException) -> SciInstructError | None:
    """A one-line error for a write that the storage refused (disk full, read-only, no
    permission), or None when `exc` is something else. What was written before stays: every
    file is appended whole lines or replaced atomically, so the same command resumes."""
    import sqlite3

    where = ""
    if isinstance(exc, OSError) and exc.errno in _STORAGE_ERRNOS:
        reason = _STORAGE_ERRNOS[exc.errno]
        where = f"cannot write {exc.filename}: " if exc.filename else "cannot write: "
    elif isinstance(exc, sqlite3.OperationalError) and any(
        text in str(exc).lower() for text in _SQLITE_STORAGE
    ):
        reason, where = f"{exc}", "cannot write the response cache: "
    else:
        return None
    return SciInstructError(
        f"{where}{reason}; finished work is saved: free space (or make the run directory "
        "writable) and run the same command to resume"
    )


def require(module: str, what: str, install: str) -> object:
    """Import an optional module or fail with the exact `pip install` line."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(what, install) from exc


def closest(name: str, known: Iterable[str], n: int = 1, cutoff: float = 0.6) -> list[str]:
    """The names in `known` nearest to a mistyped `name`, best first (difflib's ratio)."""
    import difflib

    return difflib.get_close_matches(str(name), list(known), n=n, cutoff=cutoff)


def did_you_mean(name: str, known: Iterable[str], n: int = 1, cutoff: float = 0.6) -> str:
    """`did you mean 'x'?` (or `'x', 'y'` with n > 1) for a typo; "" when nothing is close."""
    near = closest(name, known, n, cutoff)
    return f"did you mean {', '.join(repr(c) for c in near)}?" if near else ""
