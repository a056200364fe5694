"""The one way to run a stage that drives a model, for the command line and a recipe alike.

`sciinstruct annotate|critique|eval` and `flow.Flow` both hand a stage's config and its engine
spec to a `StageRunner`, which does, in one place, what each of them used to do its own way:

1. takes the run's writer lock (for as long as the runner is open);
2. resolves the `sciinstruct:` package paths in the stage's config (`--prompts
   sciinstruct:prompts/concise` works on the command line as it does in a recipe);
3. checks the prompts before a model is loaded;
4. fits the throughput to the engine: the backend's own (`Throughput`), what the spec sets,
   and on Ray two calls per actor slot; the stage's `batch_size`/`concurrency` are set from it;
5. writes the stage's engine, throughput and executor to config.yaml (section `engines`);
6. opens the engine behind the response cache, once per spec, on the executor's engines.

So after the runner, a recipe key and a command-line flag have the same effect.

    with StageRunner(run, ExecutorConfig()) as runner:
        runner.annotate(AnnotateConfig(), EngineSpec(name="openai", concurrency=64))
        runner.critique(CritiqueConfig(), EngineSpec(name="openai", concurrency=64))
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from sciinstruct.annotate import AnnotateConfig, Funnel, run_annotate
from sciinstruct.critique import CritiqueConfig, CritiqueReport, run_critique
from sciinstruct.distributed import Executor, ExecutorConfig, open_executor
from sciinstruct.evaluate import EvalConfig, run_eval
from sciinstruct.llm import Backend, CachedBackend, EngineSpec, Throughput
from sciinstruct.rundir import RunDir
from sciinstruct.settings import resolve_package_paths


class StageRunner:
    """Runs the model-driving stages over one run directory; see the module docstring.

    Engines are opened once per spec and kept until `close_engines` (a recipe's annotate and
    critique share one; training wants its memory back) or `close`.
    """

    def __init__(self, run: RunDir | str | Path, executor: ExecutorConfig | None = None) -> None:
        self.run = (run if isinstance(run, RunDir) else RunDir(run)).ensure()
        self.executor_config = executor or ExecutorConfig()
        self._executor: Executor | None = None
        self._engines: dict[tuple[str, str], Backend] = {}
        self._stack = contextlib.ExitStack()

    # -- lifetime -----------------------------------------------------------------------------
    def __enter__(self) -> StageRunner:
        self._stack.enter_context(_hold_run(self.run, "run"))
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close_engines(self) -> None:
        """Release the engines (on Ray: their actors' GPUs, which training needs)."""
        engines, self._engines = self._engines, {}
        for engine in engines.values():
            engine.close()

    def close(self) -> None:
        try:
            self.close_engines()
            if self._executor is not None:
                self._executor.close()
                self._executor = None
        finally:
            self._stack.close()  # the lock goes last: nothing is written after it

    @property
    def executor(self) -> Executor:
        """Where engines and grading run (`local`, or a Ray cluster joined once)."""
        if self._executor is None:
            self._executor = open_executor(self.executor_config)
        return self._executor

    # -- the engine ---------------------------------------------------------------------------
    def throughput(self, spec: EngineSpec) -> Throughput:
        """How hard the stage drives `spec`'s engine: the spec's (what the user set, else the
        backend's own) and, on Ray unless `concurrency` is set, two calls per actor slot, so
        each actor has its next call waiting while it serves one."""
        fitted = spec.throughput()
        config = self.executor_config
        if config.is_ray and spec.concurrency is None:
            actors = self.executor.actor_count()  # type: ignore[attr-defined]
            in_flight = config.calls_in_flight(actors, spec.name or "embedded")
            # an actor serves the calls its backend class declares (`ExecutorConfig.calls`),
            # so a call is the class's batch: a whole one for an in-process engine, whose
            # own drive (`throughput_for`: one request per call, many calls) an actor's
            # one call at a time would starve
            batch = spec.batch_size or spec.backend_class().throughput.batch_size
            fitted = Throughput(batch_size=batch, concurrency=in_flight)
        return fitted

    def engine(self, spec: EngineSpec, cache: Path | None) -> Backend:
        """`spec`'s engine on the executor, behind the response cache at `cache` (None: none),
        opened once per spec and cache."""
        key = (repr(spec), str(cache))
        if key not in self._engines:
            fitted = self.throughput(spec)
            options = spec.backend_options(fitted.concurrency)
            backend = self.executor.backend(spec.name or "embedded", spec.model, options)
            self._engines[key] = CachedBackend(backend, cache) if cache else backend
        return self._engines[key]

    def _record(self, stage: str, spec: EngineSpec, fitted: Throughput) -> None:
        engines = self.run.read_config().get("engines", {})
        engines[stage] = {
            **spec.to_dict(),
            "throughput": dataclasses.asdict(fitted),
            "executor": self.executor_config.to_dict(),
        }
        self.run.update_config("engines", engines)

    def _fitted(self, stage: str, config: Any, engine: EngineSpec) -> Any:
        """A model-driving stage's config with its package paths resolved and its batch size
        and concurrency fitted to `engine`, recorded in config.yaml."""
        fitted = self.throughput(engine)
        self._record(stage, engine, fitted)
        return dataclasses.replace(
            resolve_package_paths(config),
            batch_size=fitted.batch_size,
            concurrency=fitted.concurrency,
        )

    # -- the stages ---------------------------------------------------------------------------
    def annotate(
        self, config: AnnotateConfig, engine: EngineSpec, *, limit: int | None = None
    ) -> Funnel:
        """Annotate the run's questions (`annotate.run_annotate`) with `engine`."""
        config = self._fitted("annotate", config, engine)
        prompts = config.prompts()  # checked before a model is loaded
        backend = self.engine(engine, self.run.cache)
        with _hold_run(self.run, "annotate"):
            return run_annotate(
                self.run, backend, config, prompts, limit=limit, grading=self.executor.agrade
            )

    def critique(self, config: CritiqueConfig, engine: EngineSpec) -> CritiqueReport:
        """Judge the run's attempts (`critique.run_critique`) with `engine`."""
        config = self._fitted("critique", config, engine)
        prompts = config.prompts()
        backend = self.engine(engine, self.run.cache)
        with _hold_run(self.run, "critique"):
            return run_critique(self.run, backend, config, prompts)

    def evaluate(
        self,
        benchmarks: Sequence[str],
        engine: EngineSpec,
        out: Path,
        config: EvalConfig,
        *,
        cache: bool = True,
        data_dir: Path | None = None,
        stage: str = "eval",
    ) -> dict[str, Any]:
        """Evaluate `engine` on `benchmarks` into `out` (`evaluate.run_eval`), its responses
        cached in `out/cache.sqlite`. The eval sends one batch at a time, so a batch is as many
        requests as the engine keeps in flight. A judge in `config` also judges the judged
        benchmarks (default: the evaluated model judges them)."""
        config = resolve_package_paths(config)
        fitted = self.throughput(engine)
        config = dataclasses.replace(config, batch_size=fitted.in_flight)
        self._record(stage, engine, fitted)
        cache_path = out / "cache.sqlite" if cache else None
        out.mkdir(parents=True, exist_ok=True)
        generator = self.engine(engine, cache_path)
        grade_judge = config.judge.build(cache_path)
        settings = {
            "engine": engine.to_dict(),
            "data_dir": str(data_dir) if data_dir else None,
            "executor": self.executor_config.to_dict(),
        }
        try:
            with _hold_run(self.run, stage):
                return run_eval(
                    list(benchmarks),
                    generator,
                    out,
                    config,
                    data_dir=data_dir,
                    judge=grade_judge.backend if grade_judge is not None else None,
                    grade_judge=grade_judge,
                    settings=settings,
                    grading=self.executor.grade,
                )
        finally:
            if grade_judge is not None:
                grade_judge.backend.close()


@contextlib.contextmanager
def _hold_run(run: RunDir, stage: str) -> Iterator[None]:
    """The run's writer lock (`RunDir.lock`), held while a runner is open and re-taken,
    re-entrantly, around each stage: a second writer is refused at once, naming the holder."""
    with run.lock(stage):
        yield
