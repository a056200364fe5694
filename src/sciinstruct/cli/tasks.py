"""`sciinstruct tasks make FAMILY --n N --seed S --out FILE` and `sciinstruct tasks list`."""

from __future__ import annotations

from pathlib import Path

import typer

tasks_app = typer.Typer(
    help="Verifiable questions: scientific formats (molecules, sequences) and science templates "
    "(kinematics, unit conversion, stoichiometry, gas laws, circuits, percentages).",
    no_args_is_help=True,
)

# how many unreadable lines of a --molecules file to show before summarising
_SHOWN_PROBLEMS = 5


@tasks_app.command("list")
def list_command() -> None:
    """List the task families: name, kind, subject, answer type and what each asks."""
    from rich.table import Table

    from sciinstruct.generators import REGISTRY
    from sciinstruct.log import console

    table = Table()
    for column in ("family", "kind", "subject", "answer type"):
        table.add_column(column, no_wrap=True)  # names must stay copyable, whatever the width
    table.add_column("what it asks")
    for one in REGISTRY.values():
        table.add_row(one.name, one.kind, one.subject, one.answer_type, one.description)
    console.print(table)


@tasks_app.command("make")
def make_command(
    family: str = typer.Argument(
        ..., help="A family from `sciinstruct tasks list`, families joined by commas, or `all`."
    ),
    n: int = typer.Option(100, "--n", min=1, help="Tasks to make per family."),
    seed: int = typer.Option(0, "--seed", help="Random seed: the same seed gives the same rows."),
    out: Path = typer.Option(..., "--out", "-o", help="Output JSONL file of questions."),
    molecules: Path = typer.Option(
        None,
        "--molecules",
        help="SMILES file, one `SMILES<TAB>name` a line (default: the shipped list).",
    ),
    exclude: list[Path] = typer.Option(
        None,
        "--exclude",
        help="Question file(s) whose questions must not be drawn (e.g. your training set, to "
        "make a disjoint held-out set).",
    ),
) -> None:
    """Generate tasks as Question rows (JSONL) with their reference answers.

    Several families take turns in the file, so any first part of it is balanced across them.
    """
    from sciinstruct.generators import REGISTRY, generate, get_family, interleave
    from sciinstruct.jsonl import write_jsonl
    from sciinstruct.log import console, err_console

    names = list(REGISTRY) if family == "all" else family.split(",")
    specs = [get_family(name) for name in names]  # fail on a typo before drawing anything
    pool = _read_molecules(molecules) if molecules is not None else None
    taken = [row["question"] for path in exclude or [] for row in _read_questions(path)]
    drawn = []
    for spec in specs:
        made = generate(spec.name, n, seed, exclude=taken, molecules=pool, fewer_ok=True)
        if len(made) < n:
            err_console.print(f"{spec.name}: only {len(made)} distinct tasks (asked {n})")
        drawn.append(made)
    count = write_jsonl(out, interleave(drawn))
    console.print(f"wrote {count} questions ({family}) to {out}", highlight=False)


def _read_molecules(path: Path) -> list:
    from sciinstruct.errors import InputError
    from sciinstruct.log import err_console
    from sciinstruct.sciformats.molecules import read_molecules

    if not path.is_file():
        raise InputError("file not found", file=str(path))
    pool, problems = read_molecules(path)
    for problem in problems[:_SHOWN_PROBLEMS]:
        err_console.print(f"skipped {problem}", highlight=False)
    if len(problems) > _SHOWN_PROBLEMS:
        err_console.print(f"... and {len(problems) - _SHOWN_PROBLEMS} more lines skipped")
    if not pool:
        raise InputError(
            "no valid SMILES in the file (expected SMILES<TAB>name a line)", file=str(path)
        )
    return pool


def _read_questions(path: Path) -> list[dict]:
    from sciinstruct.errors import InputError
    from sciinstruct.jsonl import read_jsonl

    if not path.is_file():
        raise InputError("file not found", file=str(path))
    return list(read_jsonl(path, strict=True))


def register(app: typer.Typer) -> None:
    app.add_typer(tasks_app, name="tasks")
