"""`sciinstruct annotate [QUESTIONS] --run RUN_DIR`: SciGLM's self-reflective annotation.

Also home of the backend options shared with `sciinstruct critique`.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import typer

from sciinstruct.cli.executor import calls_in_flight
from sciinstruct.errors import InputError

HTTP_BACKENDS = ("openai",)


class Throughput(NamedTuple):
    """How hard to push a backend: requests per call and calls in flight."""

    batch_size: int
    concurrency: int


def default_throughput(backend: str, batch_size: int | None, concurrency: int | None) -> Throughput:
    """Per-request calls, many in flight, for a server; big batches, one at a time, in-process.

    A server batches concurrent requests itself (continuous batching), so one request per call
    keeps it full without waiting on a batch's slowest member; an in-process engine wants the
    whole batch at once and runs one batch at a time anyway.
    """
    if backend in HTTP_BACKENDS:
        return Throughput(batch_size or 1, concurrency or 16)
    return Throughput(batch_size or 16, concurrency or 1)


def parse_options(pairs: list[str] | None) -> dict[str, Any]:
    """`--option key=value` pairs; values are read as YAML scalars (8 -> int, true -> bool)."""
    from sciinstruct.settings import parse_assignments

    return parse_assignments(pairs, "--option")


def open_backend(
    name: str,
    model: str | None,
    base_url: str | list[str] | None,
    api_key_env: str | None,
    options: list[str] | None,
    concurrency: int,
    executor: Any = None,
) -> Any:
    """Build the backend named on the command line, with its options (on `executor`'s
    engines when given: Ray actors for `--executor ray`)."""
    from sciinstruct.distributed import LocalExecutor

    kwargs = parse_options(options)
    if base_url:
        kwargs["base_url"] = base_url if isinstance(base_url, str) else ",".join(base_url)
    if api_key_env:
        kwargs["api_key_env"] = api_key_env
    if name in HTTP_BACKENDS:
        kwargs.setdefault("concurrency", concurrency)
    return (executor or LocalExecutor()).backend(name, model, kwargs)


@contextlib.contextmanager
def stage_engine(
    config_cls: type,
    given: dict[str, Any],
    executor_spec: Any,
    *,
    backend: str,
    model: str | None,
    base_url: list[str] | None,
    api_key_env: str | None,
    option: list[str] | None,
    batch_size: int | None,
    concurrency: int | None,
) -> Iterator[tuple[Any, Any, Any, Any]]:
    """`(config, prompts, engine, executor)` for a stage that drives a model (annotate,
    critique): the config with batch size and concurrency fitted to the backend and the
    executor, its prompts checked before a model is loaded, and the engine, closed on exit."""
    from sciinstruct.cli.options import build_config
    from sciinstruct.distributed import open_executor

    throughput = default_throughput(backend, batch_size, concurrency)
    config = build_config(
        config_cls,
        {**given, "batch_size": throughput.batch_size, "concurrency": throughput.concurrency},
    )
    prompt_set = config.prompts()  # checked before a model is loaded
    with open_executor(executor_spec) as runner:
        in_flight = calls_in_flight(runner, backend, concurrency)
        config = dataclasses.replace(config, concurrency=in_flight or config.concurrency)
        engine = open_backend(
            backend, model, base_url, api_key_env, option, config.concurrency, runner
        )
        try:
            yield config, prompt_set, engine, runner
        finally:
            engine.close()


# Options shared by annotate and critique: (typer.Option, ...) defaults keep the signatures short.
BACKEND = typer.Option(
    "embedded", "--backend", "-b", help="embedded, openai, transformers, vllm or llamacpp."
)
MODEL = typer.Option(None, "--model", "-m", help="Model name or path (default: the backend's).")
BASE_URL = typer.Option(
    None,
    "--base-url",
    help="OpenAI-compatible server URL, e.g. http://127.0.0.1:8080/v1; repeat it (or separate "
    "by commas) for a pool of servers of one model: each request goes to the least busy.",
)
API_KEY_ENV = typer.Option(None, "--api-key-env", help="Environment variable holding the API key.")
OPTION = typer.Option(
    None, "--option", "-o", help="Backend option KEY=VALUE (repeatable), e.g. n_ctx=8192."
)
BATCH_SIZE = typer.Option(
    None, "--batch-size", help="Requests per backend call (default: 1 for a server, 16 in-process)."
)
CONCURRENCY = typer.Option(
    None,
    "--concurrency",
    "-j",
    help="Backend calls in flight (default: 16 for a server, 1 in-process).",
)


def register(app: typer.Typer) -> None:
    from sciinstruct.annotate import AnnotateConfig
    from sciinstruct.cli.options import build_config, config_options
    from sciinstruct.distributed import ExecutorConfig

    @app.command("annotate")
    @config_options(AnnotateConfig)
    @config_options(ExecutorConfig, into="executor_given")
    def annotate_command(
        given: dict[str, Any],
        executor_given: dict[str, Any],
        questions: Path = typer.Argument(
            None, help="Questions to ingest first (any format `ingest` reads); default: RUN/questions.jsonl."
        ),
        run: Path = typer.Option(..., "--run", "-r", help="Run directory."),
        backend: str = BACKEND,
        model: str = MODEL,
        base_url: list[str] = BASE_URL,
        api_key_env: str = API_KEY_ENV,
        option: list[str] = OPTION,
        batch_size: int = BATCH_SIZE,
        concurrency: int = CONCURRENCY,
        limit: int = typer.Option(None, "--limit", min=1, help="Annotate only the first N questions."),
    ) -> None:  # fmt: skip
        """Solve every question step by step (cot), let the model fix its wrong attempts (reflect), then write solutions from the reference (hinted); every attempt is graded and kept in RUN/attempts.jsonl. Re-running resumes."""
        from sciinstruct.annotate import run_annotate
        from sciinstruct.log import console
        from sciinstruct.rundir import RunDir

        rundir = RunDir(run)
        if questions is not None:
            from sciinstruct.ingest import ingest
            from sciinstruct.log import err_console

            result = ingest(questions, rundir)
            err_console.print(result.summary(str(questions), rundir), highlight=False)
        elif not rundir.questions.exists():  # say so before loading a model
            raise InputError(
                "no questions: pass a QUESTIONS file or run `sciinstruct ingest` first",
                file=str(rundir.questions),
            )
        spec = build_config(ExecutorConfig, executor_given)
        engine_options = dict(
            backend=backend, model=model, base_url=base_url, api_key_env=api_key_env,
            option=option, batch_size=batch_size, concurrency=concurrency,
        )  # fmt: skip
        with stage_engine(AnnotateConfig, given, spec, **engine_options) as (
            config, prompt_set, engine, runner,
        ):  # fmt: skip
            funnel = run_annotate(
                rundir, engine, config, prompt_set, limit=limit, grading=runner.agrade
            )
        console.print(funnel.table())
        console.print(f"attempts: {rundir.attempts}  stats: {rundir.stats}", highlight=False)
