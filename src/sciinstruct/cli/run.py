"""`sciinstruct run RECIPE.yaml` and `sciinstruct demo`: the whole flow in one command."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import typer

DEMO_RECIPE = "sciinstruct:recipes/demo.yaml"
QUICK_RECIPE = "sciinstruct:recipes/demo_quick.yaml"


def _parse_overrides(values: list[str]) -> dict[str, object]:
    """`--set train.max_steps=5` -> {"train.max_steps": 5} (values parsed as YAML scalars)."""
    from sciinstruct.settings import parse_assignments

    return parse_assignments(values)


def _run(recipe_path: str, out: Path | None, overrides: list[str], force: bool) -> None:
    from sciinstruct.flow import run_flow
    from sciinstruct.log import console
    from sciinstruct.recipe import load_recipe

    settings = _parse_overrides(overrides)
    if out is not None:
        settings["run_dir"] = str(out)
    recipe = load_recipe(recipe_path, settings)
    started = time.perf_counter()
    result = run_flow(recipe, force=force)
    minutes = (time.perf_counter() - started) / 60
    console.rule("[bold]done")
    for line in before_after_lines(result.before_after or {}):
        console.print(line, markup=False, highlight=False)
    console.print(f"finished in {minutes:.1f} min; report: {result.run.report}", markup=False)
    console.print(f"look at it in the browser: {view_command(result.run.root)}", markup=False)


def view_command(run_dir: Path) -> str:
    """The command that opens a run in `sciinstruct view` (quoted for a POSIX shell)."""
    import shlex

    return f"sciinstruct view {shlex.quote(str(run_dir))}"


def before_after_lines(summary: dict[str, Any]) -> list[str]:
    """One line per held-out benchmark: base -> tuned accuracy and the paired test."""
    base, tuned = summary.get("base") or {}, summary.get("tuned") or {}
    lines = []
    for name, before in base.get("by_benchmark", {}).items():
        text = f"held-out {name}: base {before['correct']}/{before['n']} ({before['accuracy']:.1%})"
        after = tuned.get("by_benchmark", {}).get(name)
        if after:
            text += f" -> tuned {after['correct']}/{after['n']} ({after['accuracy']:.1%})"
        test = summary.get("paired", {}).get(name)
        if test:
            text += (
                f"; {test['gained']} gained, {test['lost']} lost, McNemar p = {test['p_value']:.2g}"
            )
        lines.append(text)
    return lines


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run_command(
        recipe: str = typer.Argument(
            ..., help="Recipe YAML (see `sciinstruct demo --write-recipe`)."
        ),
        out: Path = typer.Option(None, "--out", "-o", help="Run directory (overrides run_dir)."),
        set_: list[str] = typer.Option(
            [], "--set", help="Override a recipe key, e.g. --set train.max_steps=5 (repeatable)."
        ),
        force: bool = typer.Option(False, "--force", help="Retrain and re-evaluate even if done."),
    ) -> None:
        """Run the whole flow of a recipe: ingest, annotate, critique, filter, curate, export, train, eval, report."""
        _run(recipe, out, set_, force)

    @app.command("demo")
    def demo_command(
        out: Path = typer.Option(Path("demo-run"), "--out", "-o", help="Run directory."),
        quick: bool = typer.Option(
            False, "--quick", help="A handful of questions and a few steps (a smoke test)."
        ),
        set_: list[str] = typer.Option([], "--set", help="Override a recipe key (repeatable)."),
        force: bool = typer.Option(False, "--force", help="Retrain and re-evaluate even if done."),
        write_recipe: Path = typer.Option(
            None, "--write-recipe", help="Write the demo recipe to this file to edit, and exit."
        ),
    ) -> None:
        """The whole flow on the bundled questions with the embedded model: no network, no key."""
        from sciinstruct.log import console
        from sciinstruct.settings import resolve_path

        recipe = QUICK_RECIPE if quick else DEMO_RECIPE
        if write_recipe is not None:
            shutil.copyfile(resolve_path(recipe), write_recipe)
            console.print(
                f"wrote {write_recipe}; run it with: sciinstruct run {write_recipe}", markup=False
            )
            return
        _run(recipe, out, set_, force)
