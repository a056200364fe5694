"""`sciinstruct critique RUN_DIR`: the Math-Critique judge (ChatGLM-Math) over a run's attempts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from sciinstruct.cli.annotate import (
    API_KEY_ENV,
    BACKEND,
    BASE_URL,
    BATCH_SIZE,
    CONCURRENCY,
    MODEL,
    OPTION,
    stage_engine,
)
from sciinstruct.cli.options import build_config, config_options
from sciinstruct.critique import CritiqueConfig
from sciinstruct.distributed import ExecutorConfig


def register(app: typer.Typer) -> None:
    @app.command("critique")
    @config_options(CritiqueConfig)
    @config_options(ExecutorConfig, into="executor_given")
    def critique_command(
        given: dict[str, Any],
        executor_given: dict[str, Any],
        run: Path = typer.Argument(..., help="Run directory with attempts.jsonl."),
        backend: str = BACKEND,
        model: str = MODEL,
        base_url: list[str] = BASE_URL,
        api_key_env: str = API_KEY_ENV,
        option: list[str] = OPTION,
        batch_size: int = BATCH_SIZE,
        concurrency: int = CONCURRENCY,
    ) -> None:  # fmt: skip
        """Score attempts 1-10 against the reference (RUN/critiques.jsonl) and report how well the judge agrees with the rule-based grader. Re-running resumes."""
        from sciinstruct.critique import run_critique
        from sciinstruct.errors import InputError
        from sciinstruct.log import console
        from sciinstruct.rundir import RunDir

        rundir = RunDir(run)
        if not rundir.attempts.exists():  # say so before loading a model
            raise InputError(
                "no attempts to judge: run `sciinstruct annotate` first", file=str(rundir.attempts)
            )
        spec = build_config(ExecutorConfig, executor_given)
        engine_options = dict(
            backend=backend, model=model, base_url=base_url, api_key_env=api_key_env,
            option=option, batch_size=batch_size, concurrency=concurrency,
        )  # fmt: skip
        with stage_engine(CritiqueConfig, given, spec, **engine_options) as (
            config, prompt_set, engine, _runner,
        ):  # fmt: skip
            report = run_critique(rundir, engine, config, prompt_set)
        console.print(report.agreement.table())
        a = report.agreement
        console.print(
            f"judged {report.judged}/{report.selected} attempts ({report.new} new, "
            f"{report.failed} failed, {a.null_scores} without a score); "
            f"agreement {'-' if a.accuracy is None else f'{a.accuracy:.1%}'}; "
            f"critiques: {rundir.critiques}",
            highlight=False,
        )
