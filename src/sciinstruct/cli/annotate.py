"""`sciinstruct annotate [QUESTIONS] --run RUN_DIR`: SciGLM's self-reflective annotation.

The engine options (`--backend`, `--model`, `--base-url`, `-j`, ...) are `llm.EngineSpec`'s
fields and the stage runs through `stage_runner.StageRunner`, as a recipe's annotate does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from sciinstruct.errors import InputError


def register(app: typer.Typer) -> None:
    from sciinstruct.annotate import AnnotateConfig
    from sciinstruct.cli.options import build_config, config_options
    from sciinstruct.distributed import ExecutorConfig
    from sciinstruct.llm import EngineSpec

    @app.command("annotate")
    @config_options(AnnotateConfig)
    @config_options(ExecutorConfig, into="executor_given")
    @config_options(EngineSpec, into="engine_given")  # the engine's options first in --help
    def annotate_command(
        given: dict[str, Any],
        engine_given: dict[str, Any],
        executor_given: dict[str, Any],
        questions: Path = typer.Argument(
            None, help="Questions to ingest first (any format `ingest` reads); default: RUN/questions.jsonl."
        ),
        run: Path = typer.Option(..., "--run", "-r", help="Run directory."),
        limit: int = typer.Option(None, "--limit", min=1, help="Annotate only the first N questions."),
    ) -> None:  # fmt: skip
        """Solve every question step by step (cot), let the model fix its wrong attempts (reflect), then write solutions from the reference (hinted); every attempt is graded and kept in RUN/attempts.jsonl. Re-running resumes."""
        from sciinstruct.log import console
        from sciinstruct.rundir import RunDir
        from sciinstruct.stage_runner import StageRunner

        # every option checked before the run is touched or a model loaded
        config = build_config(AnnotateConfig, given)
        engine = build_config(EngineSpec, engine_given)
        where = build_config(ExecutorConfig, executor_given)
        rundir = RunDir(run)
        if questions is None and not rundir.questions.exists():
            raise InputError(
                "no questions: pass a QUESTIONS file or run `sciinstruct ingest` first",
                file=str(rundir.questions),
            )
        with StageRunner(rundir, where) as runner:
            if questions is not None:
                from sciinstruct.ingest import ingest
                from sciinstruct.log import err_console

                result = ingest(questions, rundir)
                err_console.print(result.summary(str(questions), rundir), highlight=False)
            funnel = runner.annotate(config, engine, limit=limit)
        console.print(funnel.table())
        console.print(f"attempts: {rundir.attempts}  stats: {rundir.stats}", highlight=False)
