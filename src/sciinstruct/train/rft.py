"""Rejection-sampling fine-tuning (ChatGLM-Math): sample, grade, keep the correct, SFT; repeat.

Each round samples `samples` solutions per question from the current model, grades them against
the reference with the project's grader, keeps up to `keep_per_question` correct solutions that
differ from one another (after whitespace normalisation), and fine-tunes the current model on
them with the SFT trainer. The next round samples from the model this round produced.

Sampling goes through a backend (`sample_backend`: vLLM where installed on a GPU, else
transformers) behind the response cache `out/cache.sqlite`, as annotation does: a killed run
re-asks only what had not landed, and under `accelerate launch` rank 0 alone samples while the
other ranks wait for the round's data.

Layout: `out/round-R/` holds `rft.jsonl` (the kept solutions, in the export format), the SFT
output of that round (see `runner`), and `sampling.json` (counts, written last). With LoRA each
round is merged so that the next round samples from a standalone model. `--resume` skips
finished rounds.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sciinstruct.errors import InputError, SciInstructError
from sciinstruct.grading.verifier import make_verifier
from sciinstruct.jsonl import write_jsonl
from sciinstruct.llm.base import GenerationRequest, SamplingParams
from sciinstruct.log import logger, progress
from sciinstruct.train import data as train_data
from sciinstruct.train.config import RFTTrainConfig, SFTTrainConfig
from sciinstruct.train.model import load_tokenizer, resolve_model
from sciinstruct.train.runner import TrainResult
from sciinstruct.train.sft import train_sft

if TYPE_CHECKING:
    from sciinstruct.grading.verifier import Verifier

ROUND_DONE = "round_done.json"


def sample_backend_name(cfg: RFTTrainConfig) -> str:
    """`sample_backend`, with `auto` resolved: vLLM where it is installed and a GPU is there."""
    if cfg.sample_backend != "auto":
        return cfg.sample_backend
    import importlib.util

    from sciinstruct.train.model import on_gpu

    return "vllm" if importlib.util.find_spec("vllm") and on_gpu() else "transformers"


def sample_requests(
    prompts: list[list[dict[str, str]]], cfg: RFTTrainConfig, round_number: int
) -> list[GenerationRequest]:
    """`cfg.samples` requests per prompt, adjacent; sample i of round r has seed
    `seed + 1000 r + i`, so the cache tells the samples apart and a re-run draws the same."""
    base = cfg.seed + 1000 * round_number
    return [
        GenerationRequest(
            prompt,
            SamplingParams(
                temperature=cfg.sample_temperature,
                top_p=cfg.sample_top_p,
                max_tokens=cfg.max_new_tokens,
                seed=base + i,
            ),
        )
        for prompt in prompts
        for i in range(cfg.samples)
    ]


def sample_solutions(
    model_dir: str,
    prompts: list[list[dict[str, str]]],
    cfg: RFTTrainConfig,
    round_number: int,
    cache: Path,
) -> list[list[str]]:
    """`cfg.samples` solutions per chat prompt from `model_dir`, through the response cache."""
    return sample_with_finish_reasons(model_dir, prompts, cfg, round_number, cache)[0]


def sample_with_finish_reasons(
    model_dir: str,
    prompts: list[list[dict[str, str]]],
    cfg: RFTTrainConfig,
    round_number: int,
    cache: Path,
) -> tuple[list[list[str]], list[list[str]]]:
    """The solutions of `sample_solutions` and, for each, why generation stopped: `stop` or
    `length` (cut off at `cfg.max_new_tokens`).

    A sampling killed half-way keeps every batch that landed in `cache`; run again it asks the
    engine only for the rest. A failed generation counts as a wrong solution (an empty text).
    """
    from sciinstruct.llm import CachedBackend, make_backend

    engine = make_backend(sample_backend_name(cfg), model_dir, **cfg.sample_backend_options)
    backend = CachedBackend(engine, cache)
    requests = sample_requests(prompts, cfg, round_number)
    texts: list[str] = []
    reasons: list[str] = []
    step = cfg.sample_batch_size * cfg.samples
    try:
        with progress() as bar:
            task = bar.add_task("sampling solutions", total=len(prompts))
            for start in range(0, len(requests), step):
                completions = backend.generate(requests[start : start + step])
                texts.extend(c.text if c.ok else "" for c in completions)
                reasons.extend(c.finish_reason or "stop" for c in completions)
                bar.advance(task, len(completions) // cfg.samples)
    finally:
        backend.close()
    logger.info("sampling: %d cached, %d generated", backend.hits, backend.misses)
    k = cfg.samples
    return (
        [texts[i : i + k] for i in range(0, len(texts), k)],
        [reasons[i : i + k] for i in range(0, len(reasons), k)],
    )


def select_correct(
    questions: list[dict[str, Any]],
    solutions: list[list[str]],
    keep: int,
    finish_reasons: list[list[str]] | None = None,
    judge: Verifier | None = None,
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """SFT rows of up to `keep` distinct correct solutions per question, and the counts.

    `finish_reasons` (per solution, `stop`/`length`) keep a solution cut off by the token limit
    from being credited by a number of its unfinished work; `judge` decides the solutions the
    grader's rules cannot (all of them in one batch); `judged` counts its verdicts.
    """
    from sciinstruct.grading import grade_many

    pairs = [(q, text) for q, texts in zip(questions, solutions, strict=True) for text in texts]
    reasons = [r for rs in finish_reasons for r in rs] if finish_reasons is not None else None
    verdicts = iter(
        grade_many(
            [text for _, text in pairs],
            [q["answer"] for q, _ in pairs],
            answer_types=[q["answer_type"] for q, _ in pairs],
            units=[q["unit"] for q, _ in pairs],
            choices=[q.get("choices") for q, _ in pairs],
            metadata=[q.get("metadata") for q, _ in pairs],
            # the question's text: a solution that only repeats a given quantity is not kept
            questions=[q.get("question") or q["prompt"][-1]["content"] for q, _ in pairs],
            finish_reasons=reasons,
            judge=judge,
        )
    )
    rows: list[dict[str, Any]] = []
    counts = {"sampled": 0, "correct": 0, "duplicate": 0, "kept": 0, "questions_solved": 0}
    counts.update(ungradable_reference=0, truncated=0, judged=0)
    for question, texts in zip(questions, solutions, strict=True):
        seen: set[str] = set()
        graded = [next(verdicts) for _ in texts]
        for text, verdict in zip(texts, graded, strict=True):
            counts["sampled"] += 1
            counts["truncated"] += verdict.truncated
            counts["judged"] += verdict.source == "judge"
            if verdict.correct is None:
                counts["ungradable_reference"] += 1
                break  # the reference is the problem: no sample of this question can be graded
            if not verdict.correct:
                continue
            counts["correct"] += 1
            key = " ".join(text.split())
            if key in seen:
                counts["duplicate"] += 1
                continue
            if len(seen) < keep:
                seen.add(key)
                rows.append(_sft_row(question, text))
        counts["kept"] += len(seen)
        counts["questions_solved"] += bool(seen)
    return rows, counts


def _sft_row(question: dict[str, Any], solution: str) -> dict[str, Any]:
    messages = question["prompt"] + [{"role": "assistant", "content": solution}]
    return {
        "messages": messages,
        "question_id": question["question_id"],
        "subject": question["subject"],
        "stage": "rft",
        "weight": 1.0,
    }


def sft_settings(cfg: RFTTrainConfig, round_dir: Path, model: str, data: Path) -> SFTTrainConfig:
    """The SFT config of one round: RFT's shared settings, this round's data, model and output."""
    names = {f.name for f in dataclasses.fields(SFTTrainConfig)}
    values = {k: v for k, v in cfg.to_dict().items() if k in names}
    values.update(data=str(data), out=str(round_dir), model=model, eval_data=None, resume=False)
    # Each round's model is the next round's sampler, so a LoRA round is merged.
    values["merge"] = True
    return SFTTrainConfig(**values)


def _finished_round(round_dir: Path) -> str | None:
    marker = round_dir / ROUND_DONE
    if not marker.exists():
        return None
    return json.loads(marker.read_text())["model"]


def run_round(
    cfg: RFTTrainConfig, number: int, round_dir: Path, model: str, questions: list[dict[str, Any]]
) -> TrainResult:
    """One round: sample with `model` (or reuse this round's kept data on resume), then SFT."""
    from transformers.trainer_utils import get_last_checkpoint

    data_file = round_dir / "rft.jsonl"
    counts_file = round_dir / "sampling.json"  # written last: the round's data is complete
    if not _is_main_rank():
        _wait_for(counts_file)  # under `accelerate launch`, rank 0 alone samples
    elif not (cfg.resume and counts_file.exists()):
        prompts = [q["prompt"] for q in questions]
        cache = Path(cfg.out or round_dir.parent) / "cache.sqlite"
        solutions, reasons = sample_with_finish_reasons(model, prompts, cfg, number, cache)
        judge = make_verifier(cfg.judge_backend, cfg.judge_model, cfg.judge_base_url)
        try:
            rows, counts = select_correct(
                questions, solutions, cfg.keep_per_question, reasons, judge
            )
        finally:
            if judge is not None:
                judge.backend.close()
        logger.info("round %d: %s", number, counts)
        round_dir.mkdir(parents=True, exist_ok=True)
        if not rows:
            raise SciInstructError(
                f"round {number}: none of {counts['sampled']} sampled solutions graded correct; "
                "sample more (samples=), allow longer solutions (max_new_tokens=) or start from "
                "a stronger model"
            )
        write_jsonl(data_file, rows)
        counts_file.write_text(json.dumps(counts, indent=2))
    settings = sft_settings(cfg, round_dir, model, data_file)
    settings.resume = get_last_checkpoint(str(round_dir)) is not None
    return train_sft(settings, kind="rft")


def _is_main_rank() -> bool:
    return os.environ.get("RANK", "0") == "0"


def _wait_for(path: Path, poll_s: float = 2.0) -> None:
    """Wait until rank 0 has written `path` (sampling a round takes minutes to hours)."""
    while not path.exists():
        time.sleep(poll_s)


def train_rft(cfg: RFTTrainConfig) -> TrainResult:
    """Run `cfg.rounds` rounds of sample -> grade -> keep -> SFT, starting from `cfg.model`."""
    if cfg.out is None:
        raise InputError("an output directory is required", field="out")
    out = Path(cfg.out)
    current = resolve_model(cfg.model)
    tokenizer = load_tokenizer(current)
    loaded = train_data.load(
        cfg.data,
        train_data.question_row,
        tokenizer,
        cfg.max_length,
        reserve=cfg.max_new_tokens,
        too_long=cfg.too_long,
    )
    questions = loaded.rows
    result: TrainResult | None = None
    for number in range(1, cfg.rounds + 1):
        round_dir = out / f"round-{number}"
        done = _finished_round(round_dir)
        if done and cfg.resume:
            logger.info("round %d already finished: %s", number, done)
            current = done
            continue
        if round_dir.exists() and not cfg.resume and _is_main_rank():
            raise InputError("exists; pass --resume or choose another --out", file=str(round_dir))
        result = run_round(cfg, number, round_dir, current, questions)
        current = str(result.final_model)
        (round_dir / ROUND_DONE).write_text(json.dumps({"model": current}))
    if result is None:  # every round was already done: describe the last one
        last = out / f"round-{cfg.rounds}"
        result = TrainResult(last, last / "model", Path(current), {}, [])
    summary = {"rounds": cfg.rounds, "final_model": str(result.final_model)}
    (out / "rft.json").write_text(json.dumps(summary, indent=2))
    return result
