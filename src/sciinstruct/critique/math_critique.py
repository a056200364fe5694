"""Math-Critique (ChatGLM-Math): a judge model scores attempts 1-10 against the reference.

The judge sees the question, the reference answer (with the reference solution when there is
one) and the attempt, and is told that the reference marks the top of the scale and that a wrong
final result caps the score: factual correctness dominates style. Each verdict goes to
`critiques.jsonl` as soon as its batch lands; a re-run skips attempts already judged by the same
judge and prompt, and the response cache answers anything generated before a kill.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sciinstruct.annotate import read_attempts
from sciinstruct.critique.agreement import DEFAULT_THRESHOLD, Agreement, agreement
from sciinstruct.critique.parse import parse_verdict
from sciinstruct.errors import InputError
from sciinstruct.jsonl import BadLine, JsonlWriter, read_jsonl
from sciinstruct.llm.base import Backend, Completion, GenerationRequest, SamplingParams
from sciinstruct.llm.batching import in_batches
from sciinstruct.llm.cache import CachedBackend
from sciinstruct.log import logger
from sciinstruct.prompt_templates import PromptSet, load_prompts, messages
from sciinstruct.records import Attempt, Question, stable_id
from sciinstruct.rundir import RunDir, writes_run
from sciinstruct.settings import check_declared, option


@dataclass(frozen=True)
class CritiqueConfig:
    """Which attempts to judge and how to sample the judge."""

    stages: tuple[str, ...] = option(
        (), "Judge only these stages (default: every stage).", flag="--stage"
    )
    only_wrong: bool = option(False, "Judge only attempts the grader marked wrong.")
    limit: int | None = option(None, "Judge at most N attempts (after the filters above).", min=1)
    threshold: int = option(
        DEFAULT_THRESHOLD,
        "Score that counts as correct when comparing with the grader.",
        min=1,
        max=10,
    )
    # a judge should be repeatable: greedy by default
    temperature: float = option(0.0, "Judge sampling temperature.", short="-t")
    max_tokens: int = option(512, "Longest critique, in tokens.")
    seed: int = option(0, "Sampling seed of the judge.")
    batch_size: int = option(16, "Requests per backend call.", min=1, cli=False)
    concurrency: int = option(1, "Backend calls in flight.", min=1, cli=False)
    language: str = option("en", "Shipped judge prompt language: en or zh.", flag="--lang")
    prompt_dir: str | None = option(
        None,
        "Folder with critique.md / critique_system.md replacing the shipped ones.",
        flag="--prompts",
    )

    def __post_init__(self) -> None:
        check_declared(self)
        try:
            self.params()
        except ValueError as exc:  # temperature or max_tokens out of range
            raise InputError(str(exc), field="sampling") from None

    def prompts(self) -> PromptSet:
        """The templates this config names, checked."""
        return load_prompts(self.language, self.prompt_dir)

    def params(self) -> SamplingParams:
        return SamplingParams(
            temperature=self.temperature, max_tokens=self.max_tokens, seed=self.seed
        )


@dataclass
class CritiqueReport:
    """What a critique run judged, and how the judge agrees with the grader."""

    selected: int  # attempts chosen for judging
    judged: int  # of those, with a critique row (this run or before)
    new: int  # critiques written by this run
    failed: int  # generations that failed (not written; retried on the next run)
    agreement: Agreement

    def to_stats(self) -> dict[str, Any]:
        return {
            "selected": self.selected,
            "judged": self.judged,
            "new": self.new,
            "failed": self.failed,
            "agreement": self.agreement.to_dict(),
        }


def critique_id(attempt_id: str, judge: str, prompts: PromptSet, params: SamplingParams) -> str:
    """One critique per attempt, judge model, prompt and the sampling settings that shape the
    verdict: a new prompt, a larger `max_tokens` (no more truncated verdicts), another
    temperature or seed gives new critiques instead of reusing the old ones."""
    template = prompts.templates["critique_system"] + "\x1f" + prompts.templates["critique"]
    settings = f"t={float(params.temperature)!r} max={params.max_tokens} seed={params.seed!r}"
    return stable_id(attempt_id, judge, hashlib.sha256(template.encode()).hexdigest(), settings)


def build_request(
    attempt: Attempt, question: Question, prompts: PromptSet, config: CritiqueConfig
) -> GenerationRequest:
    """The judge's prompt for one attempt."""
    user = prompts.render("critique", question, attempt.response)
    return GenerationRequest(messages(prompts, user, "critique_system"), config.params())


def to_row(cid: str, attempt: Attempt, completion: Completion, judge_model: str) -> dict[str, Any]:
    """A critiques.jsonl row; an unparseable verdict has score None and keeps its raw text."""
    verdict = parse_verdict(completion.text)
    return {
        "id": cid,
        "attempt_id": attempt.id,
        "question_id": attempt.question_id,
        "score": verdict.score,
        "explanation": verdict.explanation,
        "raw": completion.text,
        "judge_model": judge_model,
        "usage": {
            "prompt_tokens": completion.prompt_tokens,
            "completion_tokens": completion.completion_tokens,
            "latency_s": round(completion.latency_s, 4),
            "cached": completion.cached,
        },
    }


def select_attempts(attempts: Sequence[Attempt], config: CritiqueConfig) -> list[Attempt]:
    """Attempts with a response to judge, filtered by stage and verdict, in file order."""
    chosen = [
        a
        for a in attempts
        if a.error is None
        and a.response.strip()
        and (not config.stages or a.stage in config.stages)
        and (not config.only_wrong or a.correct is False)
    ]
    return chosen[: config.limit] if config.limit is not None else chosen


@writes_run("critique")
def run_critique(
    run: RunDir | str | Path,
    backend: Backend,
    config: CritiqueConfig | None = None,
    prompts: PromptSet | None = None,
) -> CritiqueReport:
    """Judge a run's attempts; write critiques.jsonl, stats.json `critique`, config.yaml."""
    from sciinstruct.ingest import load_questions

    run = run if isinstance(run, RunDir) else RunDir(run)
    config = config or CritiqueConfig()
    prompts = prompts or config.prompts()
    bad: list[BadLine] = []
    attempts = list(read_attempts(run.attempts, bad))
    if not attempts:
        raise InputError(
            "no attempts to judge: run `sciinstruct annotate` first", file=str(run.attempts)
        )
    questions = {q.id: q for q in load_questions(run)}
    selected = [a for a in select_attempts(attempts, config) if a.question_id in questions]
    cached = backend if isinstance(backend, CachedBackend) else CachedBackend(backend, run.cache)
    run.update_config(
        "critique",
        {**asdict(config), "stages": list(config.stages), "backend": cached.name,
         "judge_model": cached.model, "prompts": prompts.sources},
    )  # fmt: skip
    params = config.params()
    ids = {a.id: critique_id(a.id, cached.model, prompts, params) for a in selected}
    wanted = set(ids.values())  # built once: critiques.jsonl may hold many rows
    rows = {r["id"]: r for r in read_jsonl(run.critiques, bad) if r.get("id") in wanted}
    todo = [a for a in selected if ids[a.id] not in rows]
    new, failed = asyncio.run(_judge(todo, questions, ids, run, cached, prompts, config, rows))
    for line in bad:
        logger.warning("skipped %s", line)
    by_attempt = {r["attempt_id"]: r for r in rows.values()}
    judged = [a for a in selected if a.id in by_attempt]
    report = CritiqueReport(
        selected=len(selected),
        judged=len(judged),
        new=new,
        failed=failed,
        agreement=agreement(
            [by_attempt[a.id]["score"] for a in judged],
            [a.correct for a in judged],
            config.threshold,
        ),
    )
    run.update_stats("critique", {**report.to_stats(), "judge_model": cached.model})
    return report


async def _judge(
    todo: list[Attempt],
    questions: dict[str, Question],
    ids: dict[str, str],
    run: RunDir,
    backend: Backend,
    prompts: PromptSet,
    config: CritiqueConfig,
    rows: dict[str, dict[str, Any]],
) -> tuple[int, int]:
    """Judge `todo` in batches, `concurrency` in flight; add rows to `rows`; (written, failed)."""
    counts = {"new": 0, "failed": 0}
    with JsonlWriter(run.critiques) as writer:

        async def handle(batch: list[Attempt]) -> None:
            requests = [build_request(a, questions[a.question_id], prompts, config) for a in batch]
            completions = await backend.agenerate(requests)
            fresh = [
                to_row(ids[a.id], a, c, backend.model)
                for a, c in zip(batch, completions, strict=True)
                if c.ok
            ]
            writer.write_many(fresh)
            rows.update((r["id"], r) for r in fresh)
            counts["new"] += len(fresh)
            counts["failed"] += len(batch) - len(fresh)

        await in_batches(todo, config.batch_size, config.concurrency, handle, "critique")
    return counts["new"], counts["failed"]
