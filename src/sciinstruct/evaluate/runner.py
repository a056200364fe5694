"""Run a benchmark against any backend and keep every prediction.

Requests go to the backend in batches (`batch_size` at a time: a server backend runs one batch
concurrently, a local engine batches it), and each batch's predictions are graded and appended to
`predictions.jsonl` as soon as they come back, so a long run shows its work and a re-run with the
response cache costs nothing. With `samples` k > 1, sample i of a question uses seed
`seed + i` so that the cache tells the samples apart; the question's outcome is then its
majority-vote answer, and pass@k is reported alongside.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sciinstruct.benchmarks.registry import BenchmarkSpec
from sciinstruct.evaluate.judged_mode import judge_answers
from sciinstruct.evaluate.prompting import build_messages
from sciinstruct.grading.verifier import JudgeSpec, Verifier
from sciinstruct.jsonl import JsonlWriter
from sciinstruct.llm.base import Backend, Completion, GenerationRequest, SamplingParams
from sciinstruct.log import logger, progress
from sciinstruct.records import Question
from sciinstruct.settings import check_declared, option

Prediction = dict[str, Any]


@dataclass(frozen=True)
class EvalConfig:
    """How to run a benchmark: the `eval` command's options and a recipe's `eval.config`."""

    limit: int | None = option(None, "Only the first N questions of each benchmark.", min=1)
    shots: int = option(0, "Few-shot examples before each question (0: zero-shot CoT).", min=0)
    samples: int = option(1, "Samples per question: k > 1 reports majority vote and pass@k.", min=1)
    # None: greedy for one sample (the benchmark convention), 0.7 for k (diversity to vote over)
    temperature: float | None = option(
        None, "Sampling temperature (default: 0 for one sample, 0.7 for k).", min=0.0
    )
    top_p: float = option(0.95, "Nucleus sampling threshold (1 when greedy).", gt=0.0, max=1.0)
    max_tokens: int | None = option(
        None, "Longest response, in tokens (default: the benchmark's own limit).", min=1
    )
    seed: int = option(0, "Seed of sample 0; sample i uses seed + i.")
    batch_size: int = option(16, "Requests sent to the backend at once.", min=1)
    judge_max_tokens: int = option(512, "Longest reply of a judged benchmark's judge.", min=1)
    # "{question}{choices}" asks exactly what `export` puts in a training sample's user turn:
    # a held-out check of what a tuned model learned, not of how it follows another prompt.
    template: str | None = option(
        None,
        "Prompt template for every benchmark, e.g. '{question}{choices}' to ask as the "
        "training samples do (default: each benchmark's own).",
    )
    # An LLM judge for the graded answers the rules cannot decide (none by default); the eval
    # command also lets it judge the judged benchmarks (default there: the evaluated model).
    judge: JudgeSpec = field(default_factory=JudgeSpec)

    def __post_init__(self) -> None:
        check_declared(self)
        if self.template is not None and "{question}" not in self.template:
            raise ValueError(f"template must contain {{question}}, got {self.template!r}")

    def params(self, spec: BenchmarkSpec, sample: int) -> SamplingParams:
        # One greedy sample is the benchmark convention; k samples need diversity to vote over.
        temperature = self.temperature
        if temperature is None:
            temperature = 0.0 if self.samples == 1 else 0.7
        return SamplingParams(
            temperature=temperature,
            top_p=1.0 if temperature == 0 else self.top_p,
            max_tokens=self.max_tokens or spec.max_tokens,
            seed=self.seed + sample,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def grade_prediction(
    spec: BenchmarkSpec,
    question: Question,
    completion: Completion,
    judge: Verifier | None = None,
) -> dict[str, Any]:
    """The grader's verdict as prediction fields; a failed generation is wrong, not ungradable.
    A response cut off by the token limit is graded as such (and marked `truncated`); `judge`
    decides what the rules cannot (`graded_by: judge`, its raw reply in `judge_raw`, its label
    in `judge_label`: `invalid` for a truncated, repetitive or answerless response)."""
    if completion.error:
        return {
            "extracted": None,
            "correct": False,
            "reason": f"generation failed: {completion.error}",
            "fallback": False,
        }
    from sciinstruct.grading import grade_question

    try:
        verdict = grade_question(
            completion.text,
            question,
            rtol=spec.rtol,
            finish_reason=completion.finish_reason,
            judge=judge,
        )
    except Exception as exc:  # a grader bug must not lose a long run; it is recorded per row
        logger.warning("grader failed on %s: %s", question.id, exc)
        return {
            "extracted": None,
            "correct": None,
            "reason": f"grader error: {exc!r}",
            "fallback": False,
        }
    return {
        "extracted": verdict.extracted,
        "correct": verdict.correct,
        "reason": verdict.reason,
        "fallback": verdict.fallback,
        "answer_type": verdict.answer_type,
        "truncated": verdict.truncated,
        "graded_by": verdict.source,
        **({"judge_raw": verdict.judge_raw} if verdict.judge_raw is not None else {}),
        **({"judge_label": verdict.judge_label} if verdict.judge_label is not None else {}),
    }


def grade_predictions(
    spec: BenchmarkSpec,
    questions: Sequence[Question],
    completions: Sequence[Completion],
    judge: Verifier | None = None,
) -> list[dict[str, Any]]:
    """`grade_prediction` for a batch: one call, so a batch is one Ray task when graded there."""
    return [
        grade_prediction(spec, q, c, judge) for q, c in zip(questions, completions, strict=True)
    ]


def _prediction(
    spec: BenchmarkSpec,
    question: Question,
    sample: int,
    request: GenerationRequest,
    completion: Completion,
) -> Prediction:
    return {
        "benchmark": spec.name,
        "question_id": question.id,
        "subject": question.subject,
        "sample": sample,
        "messages": request.messages_list(),
        "response": completion.text,
        "gold": question.answer,
        "unit": question.unit,
        "answer_type": question.answer_type,
        "error": completion.error,
        "usage": {
            "prompt_tokens": completion.prompt_tokens,
            "completion_tokens": completion.completion_tokens,
            "latency_s": round(completion.latency_s, 4),
            "cached": completion.cached,
        },
    }


def evaluate(
    spec: BenchmarkSpec,
    questions: Sequence[Question],
    backend: Backend,
    config: EvalConfig,
    judge: Backend | None = None,
    on_prediction: Callable[[Prediction], None] | None = None,
    grade_judge: Verifier | None = None,
    grading: Callable[..., Any] | None = None,
) -> list[Prediction]:
    """Generate, grade (or judge) and return one prediction per question and sample;
    `grade_judge` decides the graded answers the rules cannot.

    `grading(fn, *args)` returns `fn(*args)` computed where it likes (default: right here;
    `sciinstruct.distributed` passes a Ray task). With a `grade_judge`, whose engine cannot
    travel to another process, grading stays here."""
    if spec.mode == "judged" and judge is None:
        raise ValueError(f"{spec.name} is judged: pass a judge backend")
    jobs = [
        (
            question,
            sample,
            GenerationRequest(
                build_messages(spec, question, config.shots), config.params(spec, sample)
            ),
        )
        for question in questions
        for sample in range(config.samples)
    ]
    predictions: list[Prediction] = []
    with progress() as bar:
        task = bar.add_task(f"eval {spec.name}", total=len(jobs))
        for batch in _batches(jobs, config.batch_size):
            completions = backend.generate([request for _, _, request in batch])
            rows = [
                _prediction(spec, q, s, r, c)
                for (q, s, r), c in zip(batch, completions, strict=True)
            ]
            if spec.mode == "judged":
                _judge_batch(spec, judge, batch, completions, rows, config)  # type: ignore[arg-type]
            else:
                asked = [question for question, _, _ in batch]
                where = grading if grading is not None and grade_judge is None else _here
                verdicts = where(grade_predictions, spec, asked, completions, grade_judge)
                for row, verdict in zip(rows, verdicts, strict=True):
                    row.update(verdict)
            for row in rows:
                predictions.append(row)
                if on_prediction:
                    on_prediction(row)
            bar.advance(task, len(batch))
    return predictions


def _here(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


def _judge_batch(
    spec: BenchmarkSpec,
    judge: Backend,
    batch: Sequence[Any],
    completions: Sequence[Completion],
    rows: list[Prediction],
    config: EvalConfig,
) -> None:
    """Judge the answers that were generated; failed generations get no score (and say why)."""
    ok = [i for i, c in enumerate(completions) if not c.error]
    judgments = judge_answers(
        judge,
        spec,
        [batch[i][0] for i in ok],
        [completions[i].text for i in ok],
        config.judge_max_tokens,
    )
    for row in rows:
        row.update(
            {"score": None, "judgment": "", "judge_error": row["error"], "judge_model": judge.model}
        )
    for index, judgment in zip(ok, judgments, strict=True):
        rows[index].update(
            {"score": judgment.score, "judgment": judgment.raw, "judge_error": judgment.error}
        )


def run_eval(
    benchmarks: Sequence[str],
    backend: Backend,
    out: str | Path,
    config: EvalConfig,
    *,
    data_dir: str | Path | None = None,
    judge: Backend | None = None,
    settings: dict[str, Any] | None = None,
    grade_judge: Verifier | None = None,
    grading: Callable[..., Any] | None = None,
) -> dict[str, Any]:
    """Evaluate `backend` on each benchmark (name, .yaml or question file) and write
    `out/predictions.jsonl`, `out/results.json` and `out/summary.md`; return the results.

    Every benchmark is loaded before the first request, so a missing data file fails in seconds,
    not after an hour of generation. A judged benchmark without a `judge` is judged by the
    evaluated model itself, and results.json says so.
    """
    from sciinstruct.benchmarks.loaders import load_benchmark
    from sciinstruct.benchmarks.registry import get_spec
    from sciinstruct.evaluate.results import overall, summarize, write_results

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if grade_judge is None:
        grade_judge = config.judge.build(out / "cache.sqlite")
    specs = [get_spec(name) for name in benchmarks]
    if config.template is not None:
        specs = [spec.model_copy(update={"template": config.template}) for spec in specs]
    loaded = [(spec, load_benchmark(spec, data_dir, config.limit)) for spec in specs]
    predictions_path = out / "predictions.jsonl"
    predictions_path.unlink(
        missing_ok=True
    )  # this run's predictions only; the cache keeps old work
    summaries: dict[str, dict[str, Any]] = {}
    with JsonlWriter(predictions_path) as writer:
        for spec, questions in loaded:
            spec_judge = (judge or backend) if spec.mode == "judged" else None
            predictions = evaluate(
                spec, questions, backend, config, spec_judge, writer.write, grade_judge, grading
            )
            summaries[spec.name] = summarize(spec, predictions, config.samples)
    totals = overall(summaries)
    results = {
        "model": backend.model,
        "backend": backend.name,
        "judge": {
            "backend": (judge or backend).name,
            "model": (judge or backend).model,
            "self_judged": judge is None,
        }
        if any(s.mode == "judged" for s, _ in loaded)
        else None,
        "grade_judge": grade_judge.name if grade_judge is not None else None,
        "accuracy": totals["accuracy"],
        "overall": totals,
        "benchmarks": summaries,
        "config": {
            **config.to_dict(),
            **(settings or {}),
            "benchmarks": {
                s.name: {"version": s.version, "file": s.file, "data": s.source.path}
                for s, _ in loaded
            },
        },
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    write_results(out, results)
    return results
