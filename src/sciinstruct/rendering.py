"""Text from data, made safe to render: markdown table cells, inline code, plot labels.

Model outputs, references, subjects, sources, benchmark and model names all come from files
someone else wrote. In a markdown table a `|` starts a new cell and a newline ends the row; a
backtick opens code that swallows the rest of the line; `<` can open HTML. In a matplotlib label
a `$` starts mathtext, which a stray `$\\frac{` turns into an exception that loses the whole
report. Every table, code span and label the project writes from data goes through here, so
there is one rule to check. Nothing here ever evaluates text; it only replaces characters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

CELL_LIMIT = 200  # characters of a table cell: a 100,000-character answer is not a table cell
LABEL_LIMIT = 40  # characters of a plot's tick label, legend entry or title part

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # all but \t \n \r
_NEWLINES = re.compile(r"\r\n|\r|\n")
_CELL_ESCAPES = str.maketrans(
    {"\\": "\\\\", "|": "\\|", "`": "\\`", "<": "&lt;", ">": "&gt;", "&": "&amp;"}
)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _plain(value: Any) -> str:
    """str(value) with control characters (NUL, escape sequences) shown as U+FFFD, and
    invalid surrogates (from undecodable bytes) replaced."""
    text = value if isinstance(value, str) else str(value)
    text = text.encode("utf-8", "replace").decode("utf-8")
    return _CONTROL.sub("\ufffd", text)


def md_cell(value: Any, limit: int = CELL_LIMIT) -> str:
    """One markdown table cell: `|`, backticks, `\\`, `<`, `>`, `&` escaped, newlines as
    `<br>`, control characters replaced, cut to `limit` characters."""
    text = _clip(_plain(value).strip(), limit)
    return "<br>".join(line.translate(_CELL_ESCAPES) for line in _NEWLINES.split(text))


def md_row(cells: Iterable[Any]) -> str:
    return "| " + " | ".join(md_cell(c) for c in cells) + " |"


def md_table(
    header: Sequence[Any], rows: Iterable[Sequence[Any]], align: str | None = None
) -> list[str]:
    """A markdown table as lines. `align` has one letter per column: `l` (default), `r`, `c`."""
    align = align or "l" * len(header)
    if len(align) != len(header):
        raise ValueError(f"align has {len(align)} letters for {len(header)} columns")
    rule = {"l": "---", "r": "---:", "c": ":---:"}
    lines = [md_row(header), "|" + "|".join(rule[a] for a in align) + "|"]
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"a row has {len(row)} cells for {len(header)} columns: {row!r}")
        lines.append(md_row(row))
    return lines


def md_code(value: Any, limit: int = CELL_LIMIT) -> str:
    """Inline code that shows `value` verbatim: fenced with more backticks than it holds
    (CommonMark's rule), on one line, cut to `limit` characters."""
    text = _clip(" ".join(_NEWLINES.split(_plain(value))), limit)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def file_stem(value: Any, limit: int = 80) -> str:
    """A name from data as a file name: letters, digits, `-`, `_` and `.` kept, anything else
    (`/`, `..` at the start, spaces) made `_`, so the file stays in the folder it is meant for."""
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", _plain(value))[:limit].lstrip(".")
    return stem or "_"


def plot_label(value: Any, limit: int = LABEL_LIMIT) -> str:
    """A matplotlib label: one line, cut to `limit` characters, `$` escaped so that mathtext
    never parses it."""
    text = _clip(" ".join(_plain(value).split()), limit)
    return text.replace("$", r"\$")
