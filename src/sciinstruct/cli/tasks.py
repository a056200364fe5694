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
    """List the task families: name, subject, answer type and what each asks."""
    from rich.table import Table

    from sciinstruct.generators import REGISTRY as TEMPLATES
    from sciinstruct.log import console
    from sciinstruct.sciformats.tasks import FAMILIES

    table = Table()
    for column in ("family", "kind", "subject", "answer type"):
        table.add_column(column, no_wrap=True)  # names must stay copyable, whatever the width
    table.add_column("what it asks")
    for family in FAMILIES.values():
        table.add_row(family.name, "format", family.subject, family.answer_type, family.description)
    for name, template in sorted(TEMPLATES.items()):
        table.add_row(name, "template", template.subject, "numeric", template.description)
    console.print(table)


@tasks_app.command("make")
def make_command(
    family: str = typer.Argument(
        ...,
        help="A family from `sciinstruct tasks list`, `all`, or template families joined by commas.",
    ),
    n: int = typer.Option(100, "--n", min=1, help="Tasks to make (per family with `all`)."),
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
        help="Question file(s) whose questions must not be drawn (template families; "
        "e.g. your training set, to make a disjoint held-out set).",
    ),
) -> None:
    """Generate tasks as Question rows (JSONL) with their reference answers."""
    from sciinstruct.errors import InputError
    from sciinstruct.generators import REGISTRY as TEMPLATES
    from sciinstruct.jsonl import write_jsonl
    from sciinstruct.log import console, err_console
    from sciinstruct.sciformats.molecules import read_molecules
    from sciinstruct.sciformats.tasks import FAMILIES, get_family, make_tasks

    templates = family.split(",")
    if all(name in TEMPLATES for name in templates):  # science template families (gas laws, ...)
        from sciinstruct.generators import write_questions

        taken = [row["question"] for path in exclude or [] for row in _read_questions(path)]
        count = write_questions(templates, n, seed, out, exclude=taken)
        console.print(f"wrote {count} questions ({family}) to {out}", highlight=False)
        return
    try:
        names = list(FAMILIES) if family == "all" else [get_family(family).name]
    except KeyError as exc:
        raise InputError(exc.args[0], field="FAMILY") from None
    pool = None
    if molecules is not None:
        if not molecules.is_file():
            raise InputError("file not found", file=str(molecules))
        pool, problems = read_molecules(molecules)
        for problem in problems[:_SHOWN_PROBLEMS]:
            err_console.print(f"skipped {problem}", highlight=False)
        if len(problems) > _SHOWN_PROBLEMS:
            err_console.print(f"... and {len(problems) - _SHOWN_PROBLEMS} more lines skipped")
        if not pool:
            raise InputError(
                "no valid SMILES in the file (expected SMILES<TAB>name a line)", file=str(molecules)
            )
    rows = []
    for name in names:
        made = make_tasks(name, n, seed=seed, molecules=pool)
        if len(made) < n:
            err_console.print(
                f"{name}: only {len(made)} distinct tasks from this molecule list (asked {n})"
            )
        rows.extend(made)
    count = write_jsonl(out, rows)
    console.print(f"wrote {count} tasks ({', '.join(names)}) to {out}", highlight=False)


def _read_questions(path: Path) -> list[dict]:
    from sciinstruct.errors import InputError
    from sciinstruct.jsonl import read_jsonl

    if not path.is_file():
        raise InputError("file not found", file=str(path))
    return list(read_jsonl(path, strict=True))


def register(app: typer.Typer) -> None:
    app.add_typer(tasks_app, name="tasks")
