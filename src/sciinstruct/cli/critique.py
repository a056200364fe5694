"""`sciinstruct critique RUN_DIR`: the Math-Critique judge (ChatGLM-Math) over a run's attempts."""

from __future__ import annotations

import dataclasses
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
    default_throughput,
    open_backend,
)
from sciinstruct.cli.executor import (
    ACTORS,
    CPUS_PER_ACTOR,
    EXECUTOR,
    GPUS_PER_ACTOR,
    RAY_ADDRESS,
    calls_in_flight,
    executor_config,
)
from sciinstruct.cli.options import build_config, config_options
from sciinstruct.critique import CritiqueConfig


def register(app: typer.Typer) -> None:
    @app.command("critique")
    @config_options(CritiqueConfig)
    def critique_command(
        given: dict[str, Any],
        run: Path = typer.Argument(..., help="Run directory with attempts.jsonl."),
        backend: str = BACKEND,
        model: str = MODEL,
        base_url: list[str] = BASE_URL,
        api_key_env: str = API_KEY_ENV,
        option: list[str] = OPTION,
        batch_size: int = BATCH_SIZE,
        concurrency: int = CONCURRENCY,
        executor: str = EXECUTOR,
        ray_address: str = RAY_ADDRESS,
        actors: int = ACTORS,
        num_cpus_per_actor: float = CPUS_PER_ACTOR,
        num_gpus_per_actor: float = GPUS_PER_ACTOR,
    ) -> None:  # fmt: skip
        """Score attempts 1-10 against the reference (RUN/critiques.jsonl) and report how well the judge agrees with the rule-based grader. Re-running resumes."""
        from sciinstruct.critique import run_critique
        from sciinstruct.distributed import open_executor
        from sciinstruct.errors import InputError
        from sciinstruct.log import console
        from sciinstruct.rundir import RunDir

        rundir = RunDir(run)
        if not rundir.attempts.exists():  # say so before loading a model
            raise InputError(
                "no attempts to judge: run `sciinstruct annotate` first", file=str(rundir.attempts)
            )
        throughput = default_throughput(backend, batch_size, concurrency)
        config = build_config(
            CritiqueConfig,
            {**given, "batch_size": throughput.batch_size, "concurrency": throughput.concurrency},
        )
        prompt_set = config.prompts()  # checked before a model is loaded
        spec = executor_config(
            executor, ray_address, actors, num_cpus_per_actor, num_gpus_per_actor
        )
        with open_executor(spec) as runner:
            in_flight = calls_in_flight(runner, backend, concurrency)
            config = dataclasses.replace(config, concurrency=in_flight or config.concurrency)
            engine = open_backend(
                backend, model, base_url, api_key_env, option, config.concurrency, runner
            )
            try:
                report = run_critique(rundir, engine, config, prompt_set)
            finally:
                engine.close()
        console.print(report.agreement.table())
        a = report.agreement
        console.print(
            f"judged {report.judged}/{report.selected} attempts ({report.new} new, "
            f"{report.failed} failed, {a.null_scores} without a score); "
            f"agreement {'-' if a.accuracy is None else f'{a.accuracy:.1%}'}; "
            f"critiques: {rundir.critiques}",
            highlight=False,
        )
