"""`sciinstruct critique RUN_DIR`: the Math-Critique judge (ChatGLM-Math) over a run's attempts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from sciinstruct.cli.options import build_config, config_options
from sciinstruct.critique import CritiqueConfig
from sciinstruct.distributed import ExecutorConfig
from sciinstruct.llm import EngineSpec


def register(app: typer.Typer) -> None:
    @app.command("critique")
    @config_options(CritiqueConfig)
    @config_options(ExecutorConfig, into="executor_given")
    @config_options(EngineSpec, into="engine_given")  # the engine's options first in --help
    def critique_command(
        given: dict[str, Any],
        engine_given: dict[str, Any],
        executor_given: dict[str, Any],
        run: Path = typer.Argument(..., help="Run directory with attempts.jsonl."),
    ) -> None:  # fmt: skip
        """Score attempts 1-10 against the reference (RUN/critiques.jsonl) and report how well the judge agrees with the rule-based grader. Re-running resumes."""
        from sciinstruct.errors import InputError
        from sciinstruct.log import console
        from sciinstruct.rundir import RunDir
        from sciinstruct.stage_runner import StageRunner

        config = build_config(CritiqueConfig, given)
        engine = build_config(EngineSpec, engine_given)
        where = build_config(ExecutorConfig, executor_given)
        rundir = RunDir(run)
        if not rundir.attempts.exists():  # say so before loading a model
            raise InputError(
                "no attempts to judge: run `sciinstruct annotate` first", file=str(rundir.attempts)
            )
        with StageRunner(rundir, where) as runner:
            report = runner.critique(config, engine)
        console.print(report.agreement.table())
        a = report.agreement
        console.print(
            f"judged {report.judged}/{report.selected} attempts ({report.new} new, "
            f"{report.failed} failed, {a.null_scores} without a score); "
            f"agreement {'-' if a.accuracy is None else f'{a.accuracy:.1%}'}; "
            f"critiques: {rundir.critiques}",
            highlight=False,
        )
