"""The annotation loop: every question through its stages, requests batched across questions.

The scheduler hands out the slots that are ready (a question's next stage becomes ready as soon
as its own attempts are graded); `concurrency` workers each send `batch_size` of them per backend
call, so a server or batched engine stays busy across questions and across stage boundaries.
Each completion is graded and appended to `attempts.jsonl` as soon as its batch lands. Nothing
lives only in memory: killed and run again, the ledger (rebuilt from the file) and the response
cache make the run pick up where it was. Questions are read as they are needed and leave
memory when settled (`Scheduler`), so memory and the cost per attempt stay flat however many
questions the run has.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sciinstruct.annotate.funnel import Funnel, Tally, build_funnel
from sciinstruct.annotate.ledger import Ledger
from sciinstruct.annotate.scheduler import Scheduler
from sciinstruct.annotate.stages import ANNOTATE_STAGES, Slot, StagePlan, build_requests
from sciinstruct.errors import InputError
from sciinstruct.grading.verifier import JudgeSpec, Verifier
from sciinstruct.jsonl import BadLine, JsonlWriter
from sciinstruct.llm.base import Backend, Completion, GenerationRequest
from sciinstruct.llm.cache import CachedBackend
from sciinstruct.log import logger, progress
from sciinstruct.prompt_templates import PromptSet, load_prompts
from sciinstruct.records import Attempt, Question, Usage
from sciinstruct.rundir import RunDir, writes_run
from sciinstruct.settings import check_declared, option

# Where grading runs: `grading(fn, *args)` awaits `fn(*args)`. Default: a thread of this process;
# `sciinstruct.distributed` passes Ray tasks.
Grading = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class AnnotateConfig:
    """Everything that decides what annotate asks and how hard it pushes the backend."""

    stages: tuple[str, ...] = option(ANNOTATE_STAGES, "Stages to run, in order.")
    # the sampling plan's fields are options of their own names: --samples, --temperature, ...
    plan: StagePlan = field(default_factory=StagePlan, metadata={"prefix": ""})
    # requests per backend call (a batched engine's batch) and calls in flight (an HTTP
    # server's parallel requests): the command line's defaults depend on the backend
    batch_size: int = option(16, "Requests per backend call.", min=1, cli=False)
    concurrency: int = option(1, "Backend calls in flight.", min=1, cli=False)
    rtol: float | None = option(
        None, "Relative tolerance of numbers [default: metadata.rtol, else 0.01]."
    )
    grade_timeout: float = option(5.0, "Seconds per grading call.", gt=0.0)
    language: str = option(
        "en", "Shipped prompt language: en or zh (SciGLM's Chinese prompts).", flag="--lang"
    )
    prompt_dir: str | None = option(
        None, "Folder of template files replacing the shipped ones by name.", flag="--prompts"
    )
    system_prompt: str | None = option(
        None, "System prompt text, or a file holding it ('' for none)."
    )
    # An LLM judge for the answers the grader's rules cannot decide (none by default).
    judge: JudgeSpec = field(default_factory=JudgeSpec)

    def __post_init__(self) -> None:
        unknown = [s for s in self.stages if s not in ANNOTATE_STAGES]
        if unknown or not self.stages:
            raise InputError(
                f"stages must be among {', '.join(ANNOTATE_STAGES)}, got {', '.join(self.stages)}",
                field="stages",
            )
        order = [ANNOTATE_STAGES.index(s) for s in self.stages]
        if order != sorted(set(order)):
            raise InputError(
                f"stages run in the order cot, reflect, hinted; got {','.join(self.stages)}",
                field="stages",
            )
        if "reflect" in self.stages and "cot" not in self.stages:
            raise InputError("stage 'reflect' revises cot attempts: include 'cot'", field="stages")
        check_declared(self)
        check_declared(self.plan)
        try:
            self.plan.params(0)
        except ValueError as exc:  # temperature, top_p, max_tokens out of range
            raise InputError(str(exc), field="sampling") from None

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "stages": list(self.stages)}

    def prompts(self) -> PromptSet:
        """The templates this config names, checked."""
        return load_prompts(self.language, self.prompt_dir, self.system_prompt)


@writes_run("annotate")  # one writer per run: a scheduler's overlapping retry is refused
def run_annotate(
    run: RunDir | str | Path,
    backend: Backend,
    config: AnnotateConfig | None = None,
    prompts: PromptSet | None = None,
    questions: Iterable[Question] | None = None,
    limit: int | None = None,
    grading: Grading | None = None,
) -> Funnel:
    """Annotate a run directory's questions; the entry point of the CLI and of recipes.

    The backend is put behind the run's response cache (unless it already is one), the
    resolved options go to config.yaml and the funnel to stats.json (section `annotate`).
    Questions are read from the run as they are needed (or from `questions`, any iterable).
    """
    run = run if isinstance(run, RunDir) else RunDir(run)
    config = config or AnnotateConfig()
    prompts = prompts or config.prompts()
    if questions is None:
        from sciinstruct.ingest import iter_questions

        questions = iter_questions(run)
    if limit is not None:
        questions = itertools.islice(questions, limit)
    cached = backend if isinstance(backend, CachedBackend) else CachedBackend(backend, run.cache)
    if run.attempts.exists():  # checked before config.yaml is overwritten with this run's model
        previous = run.read_config().get("annotate", {}).get("model")
        _check_same_model({previous} if previous else set(), cached.model, run.attempts)
    run.update_config(
        "annotate",
        {
            **config.to_dict(),
            "backend": cached.name,
            "model": cached.model,
            "prompts": prompts.sources,
            "limit": limit,
        },
    )
    bad: list[BadLine] = []
    judge = config.judge.build(run.cache)
    try:
        funnel = annotate(questions, run, cached, prompts, config, bad, judge, grading)
    finally:
        if judge is not None:
            judge.backend.close()
    for line in bad:
        logger.warning("skipped %s", line)
    stats = funnel.to_stats()
    stats["cache"] = {"hits": cached.hits, "misses": cached.misses}
    stats["skipped_lines"] = len(bad)
    run.update_stats("annotate", stats)
    return funnel


def annotate(
    questions: Iterable[Question],
    run: RunDir,
    backend: Backend,
    prompts: PromptSet,
    config: AnnotateConfig,
    bad: list[BadLine] | None = None,
    judge: Verifier | None = None,
    grading: Grading | None = None,
) -> Funnel:
    """Run every stage for every unsolved question and return the funnel.

    The lower-level entry: no cache is added and nothing goes to stats.json or config.yaml
    (`run_annotate` does both). Runs its own event loop, so call it from synchronous code.
    """
    return asyncio.run(_annotate(questions, run, backend, prompts, config, bad, judge, grading))


def in_progress(config: AnnotateConfig) -> int:
    """Questions held in progress at once: enough ready slots for every call in flight several
    times over (a question's cot alone is `samples` slots), and no more, so memory stays flat."""
    return max(256, 4 * config.concurrency * config.batch_size)


async def _annotate(
    questions: Iterable[Question],
    run: RunDir,
    backend: Backend,
    prompts: PromptSet,
    config: AnnotateConfig,
    bad: list[BadLine] | None,
    judge: Verifier | None = None,
    grading: Grading | None = None,
) -> Funnel:
    run.ensure()
    tally = Tally(config.stages)
    ledger = Ledger.load(run.attempts, bad)
    ledger.on_add = tally
    try:
        _check_same_model(ledger.models(), backend.model, run.attempts)
        return await _drive(questions, run, backend, prompts, config, ledger, tally, judge, grading)
    finally:
        ledger.close()


async def _drive(
    questions: Iterable[Question],
    run: RunDir,
    backend: Backend,
    prompts: PromptSet,
    config: AnnotateConfig,
    ledger: Ledger,
    tally: Tally,
    judge: Verifier | None,
    grading: Grading | None,
) -> Funnel:
    spans: dict[str, list[float]] = {}  # stage -> [first request sent, last attempt recorded]
    with JsonlWriter(run.attempts) as writer, progress() as bar:
        tasks = {stage: bar.add_task(stage, total=0) for stage in config.stages}
        scheduler = Scheduler(
            questions,
            ledger,
            config.stages,
            config.plan,
            on_ready=lambda stage, total: bar.update(tasks[stage], total=total),
            window=in_progress(config),
        )
        changed = asyncio.Condition()

        async def worker() -> None:
            while True:
                async with changed:
                    await changed.wait_for(lambda: scheduler.ready or scheduler.in_flight == 0)
                    batch = scheduler.take(config.batch_size)
                if not batch:
                    return  # nothing ready and nothing in flight that could make more
                now = time.perf_counter()
                for slot in batch:
                    spans.setdefault(slot.stage, [now, now])
                try:
                    attempts = await _generate(batch, backend, prompts, config, judge, grading)
                    writer.write_many(attempts)
                    ledger.extend(attempts)
                finally:
                    async with changed:
                        scheduler.done(batch)
                        changed.notify_all()
                now = time.perf_counter()
                for slot in batch:
                    spans[slot.stage][1] = now
                    bar.advance(tasks[slot.stage])

        start = time.perf_counter()
        try:
            await asyncio.gather(*(worker() for _ in range(config.concurrency)))
        finally:
            scheduler.close()
        wall = time.perf_counter() - start
    walls = {stage: end - begin for stage, (begin, end) in spans.items()}
    funnel = build_funnel(scheduler.questions, tally, scheduler.settled, walls, scheduler.enqueued)
    funnel.wall_s = wall
    return funnel


def _check_same_model(models: set[str], model: str, path: Path) -> None:
    """Refuse to resume another model's run: its finished slots would count as this model's."""
    others = sorted(models - {model})
    if others:
        raise InputError(
            f"holds attempts by model {others[0]!r}, and this run asks {model!r}: a resumed run "
            "would keep the other model's attempts as done; annotate into a new --run directory",
            file=str(path),
        )


async def _generate(
    batch: list[Slot],
    backend: Backend,
    prompts: PromptSet,
    config: AnnotateConfig,
    judge: Verifier | None = None,
    grading: Grading | None = None,
) -> list[Attempt]:
    """One backend call for `batch`, graded."""
    requests = build_requests(batch, prompts, config.plan)
    completions = await backend.agenerate(requests)
    # Grading is CPU work; off the loop, the other workers' requests keep flowing.
    # An LLM judge holds an engine that cannot travel to a Ray task: with one, grade here.
    offload = grading if grading is not None and judge is None else asyncio.to_thread
    return await offload(grade_batch, batch, requests, completions, backend.model, config, judge)


def grade_batch(
    slots: Sequence[Slot],
    requests: Sequence[GenerationRequest],
    completions: Sequence[Completion],
    model: str,
    config: AnnotateConfig,
    judge: Verifier | None = None,
) -> list[Attempt]:
    """Turn completions into graded attempts; a failed generation is kept with its error."""
    return [
        to_attempt(s, r, c, model, config, judge)
        for s, r, c in zip(slots, requests, completions, strict=True)
    ]


def to_attempt(
    slot: Slot,
    request: GenerationRequest,
    completion: Completion,
    model: str,
    config: AnnotateConfig,
    judge: Verifier | None = None,
) -> Attempt:
    """One attempt record: prompt, response, verdict, parent, usage, and how it was sampled."""
    from sciinstruct.grading import grade_question

    q = slot.question
    meta: dict[str, object] = {
        "sample": slot.index,
        "seed": request.params.seed,
        "finish_reason": completion.finish_reason,
    }
    if slot.stage == "hinted":
        meta["hinted"] = True  # written from the reference: curation may weigh or drop it
    if slot.retry:
        meta["retry"] = slot.retry
    attempt = Attempt(
        id=slot.attempt_id,
        question_id=q.id,
        stage=slot.stage,  # type: ignore[arg-type]
        parent_id=slot.parent_id,
        model=model,
        messages=request.messages_list(),
        response=completion.text,
        usage=Usage(
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            latency_s=round(completion.latency_s, 4),
            cached=completion.cached,
        ),
        metadata=meta,
    )
    if completion.error is not None:
        attempt.error = completion.error
        attempt.grade_reason = "not graded: generation failed"
        return attempt
    verdict = grade_question(
        completion.text,
        q,
        rtol=config.rtol,
        timeout=config.grade_timeout,
        finish_reason=completion.finish_reason,
        judge=judge,
    )
    attempt.extracted = verdict.extracted
    attempt.correct = verdict.correct
    attempt.grade_reason = verdict.reason
    # on the record itself: pydantic copied `meta` when the Attempt was built
    attempt.metadata["answer_type"] = verdict.answer_type
    if verdict.fallback:
        attempt.metadata["fallback"] = True  # the answer was found only as the text's last number
    if verdict.truncated:
        attempt.metadata["truncated"] = True  # cut off by the token limit
    if verdict.source == "judge":
        attempt.metadata["graded_by"] = "judge"  # the rules could not decide
        attempt.metadata["judge_raw"] = verdict.judge_raw
    return attempt
